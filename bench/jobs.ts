/** Reading a day through an analytics job with the SDK and nothing else: a baseline of benches. */
import platformClient from 'purecloud-platform-client-v2';
import {addDays} from '../functions/core/time-window';

/** Creates a job over `day` (UTC), waits for it and reads every page of 1000. */
export async function readJobPages(
  analytics: InstanceType<typeof platformClient.AnalyticsApi>,
  day: string,
): Promise<{conversations: number; requests: number}> {
  const {jobId} = await analytics.postAnalyticsConversationsDetailsJobs({
    interval: `${day}T00:00:00.000Z/${addDays(day, 1)}T00:00:00.000Z`,
    order: 'asc',
    orderBy: 'conversationStart',
  });
  for (;;) {
    const s = await analytics.getAnalyticsConversationsDetailsJob(jobId!);
    if (s.state === 'FULFILLED') break;
    await new Promise(r => setTimeout(r, 50));
  }
  let cursor: string | undefined;
  let conversations = 0;
  let requests = 0;
  do {
    const page = await analytics.getAnalyticsConversationsDetailsJobResults(jobId!, {
      pageSize: 1000,
      ...(cursor ? {cursor} : {}),
    });
    conversations += page.conversations?.length ?? 0;
    cursor = page.cursor;
    requests++;
  } while (cursor);
  return {conversations, requests};
}
