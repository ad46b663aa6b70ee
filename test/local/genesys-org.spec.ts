/**
 * The synthetic organisation and its media, without HTTP: determinism, the
 * shape of each day, and that every generated file is a valid container.
 */
import * as assert from 'node:assert';
import {execFileSync} from 'node:child_process';
import {createHash} from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import {crc32} from 'node:zlib';
import {Organisation, Recording, Conversation} from '../../local/genesys/org';
import {chatTranscript, mediaFor} from '../../local/genesys/media';
import {decodeConversationId, encodeConversationId} from '../../local/genesys/random';

async function bytesOf(stream: NodeJS.ReadableStream): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of stream) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

function allRecordings(
  org: Organisation,
  day: string,
): Array<{conv: Conversation; rec: Recording}> {
  const out: Array<{conv: Conversation; rec: Recording}> = [];
  for (let i = 0; i < org.countFor(day); i++) {
    const conv = org.conversation(day, i);
    for (const rec of conv.recordings) out.push({conv, rec});
  }
  return out;
}

function hasCommand(cmd: string): boolean {
  try {
    execFileSync('sh', ['-c', `command -v ${cmd}`], {stdio: 'ignore'});
    return true;
  } catch {
    return false;
  }
}

/** An independent Ogg page walker: capture pattern, sequence, CRC (computed here), flags. */
function walkOgg(buf: Buffer): {pages: number; lastGranule: bigint; packets: number} {
  const table = new Uint32Array(256).map((_, i) => {
    let r = i << 24;
    for (let j = 0; j < 8; j++) r = r & 0x80000000 ? (r << 1) ^ 0x04c11db7 : r << 1;
    return r >>> 0;
  });
  let off = 0;
  let seq = 0;
  let granule = 0n;
  let packets = 0;
  while (off < buf.length) {
    assert.strictEqual(buf.toString('ascii', off, off + 4), 'OggS', `capture pattern at ${off}`);
    const flags = buf[off + 5]!;
    const pageSeq = buf.readUInt32LE(off + 18);
    assert.strictEqual(pageSeq, seq++);
    const segs = buf[off + 26]!;
    let bodyLen = 0;
    for (let i = 0; i < segs; i++) {
      const l = buf[off + 27 + i]!;
      bodyLen += l;
      if (l < 255) packets++;
    }
    const len = 27 + segs + bodyLen;
    const page = Buffer.from(buf.subarray(off, off + len));
    const stored = page.readUInt32LE(22);
    page.writeUInt32LE(0, 22);
    let crc = 0;
    for (const b of page) crc = ((crc << 8) ^ table[((crc >>> 24) ^ b) & 0xff]!) >>> 0;
    assert.strictEqual(stored, crc, `CRC of page ${pageSeq}`);
    const g = buf.readBigUInt64LE(off + 6);
    assert.ok(g >= granule, 'granule positions never go back');
    granule = g;
    if (pageSeq === 0) assert.strictEqual(flags & 0x02, 0x02, 'first page is BOS');
    off += len;
    if (off === buf.length) assert.strictEqual(flags & 0x04, 0x04, 'last page is EOS');
  }
  return {pages: seq, lastGranule: granule, packets};
}

describe('synthetic organisation', () => {
  const day = '2023-02-01';

  it('should be deterministic: same seed, same conversations and bytes', async () => {
    const a = new Organisation({seed: 'same', conversationsPerDay: 30});
    const b = new Organisation({seed: 'same', conversationsPerDay: 30});
    const c = new Organisation({seed: 'other', conversationsPerDay: 30});
    assert.deepStrictEqual(a.conversation(day, 7), b.conversation(day, 7));
    assert.notStrictEqual(a.conversation(day, 7).id, c.conversation(day, 7).id);
    const ra = allRecordings(a, day).find(x => x.rec.media === 'audio')!;
    const rb = allRecordings(b, day).find(x => x.rec.media === 'audio')!;
    const ha = createHash('md5')
      .update(await bytesOf(mediaFor(ra.conv, ra.rec).stream()))
      .digest('hex');
    const hb = createHash('md5')
      .update(await bytesOf(mediaFor(rb.conv, rb.rec).stream()))
      .digest('hex');
    assert.strictEqual(ha, hb);
  });

  it('should resolve any conversation id it handed out, and no other', () => {
    const org = new Organisation({seed: 'ids', conversationsPerDay: 40});
    const conv = org.conversation('2024-06-30', 39);
    assert.strictEqual(org.find(conv.id)?.index, 39);
    assert.strictEqual(org.find(conv.id.toUpperCase())?.id, conv.id);
    assert.strictEqual(
      new Organisation({seed: 'not-ids', conversationsPerDay: 40}).find(conv.id),
      undefined,
    );
    assert.strictEqual(org.find('0f8fad5b-d9cb-469f-a165-70867728950e'), undefined);
    assert.strictEqual(org.find('not-a-uuid'), undefined);
    const id = encodeConversationId('x', 19_000, 123_456);
    assert.deepStrictEqual(decodeConversationId('x', id), {dayNumber: 19_000, index: 123_456});
  });

  it('should hold only exportable or deleted recordings in the clean profile', () => {
    const org = new Organisation({seed: 'clean', conversationsPerDay: 400, profile: 'clean'});
    const states = new Set(allRecordings(org, day).map(x => x.rec.fileState));
    assert.ok(states.has('AVAILABLE') && states.has('DELETED'));
    for (const s of states)
      assert.ok(['AVAILABLE', 'RESTORED', 'DELETED'].includes(s), `unexpected ${s}`);
  });

  it('should mix channels, directions and conversations that span midnight', () => {
    const org = new Organisation({seed: 'mix', conversationsPerDay: 300});
    const convs = Array.from({length: 300}, (_, i) => org.conversation(day, i));
    assert.deepStrictEqual([...new Set(convs.map(c => c.channel))].sort(), [
      'chat',
      'email',
      'message',
      'voice',
    ]);
    assert.deepStrictEqual([...new Set(convs.map(c => c.direction))].sort(), [
      'inbound',
      'outbound',
    ]);
    const midnight = Date.parse('2023-02-02T00:00:00Z');
    assert.ok(convs.filter(c => c.endMs > midnight).length >= 6);
    assert.ok(convs.every(c => new Date(c.startMs).toISOString().startsWith(day)));
  });

  it('should honour per-day conversation counts and build a 100k day skeleton', () => {
    const org = new Organisation({
      seed: 'big',
      conversationsPerDay: 10,
      perDay: {'2023-03-01': 100_000},
    });
    assert.strictEqual(org.skeleton(day).order.length, 10);
    const sk = org.skeleton('2023-03-01');
    assert.strictEqual(sk.order.length, 100_000);
    for (let i = 1; i < 1000; i++)
      assert.ok(sk.startMs[sk.order[i]!]! >= sk.startMs[sk.order[i - 1]!]!);
  });

  describe('media', () => {
    const org = new Organisation({
      seed: 'media',
      conversationsPerDay: 120,
      wavShare: 0.3,
      audioBytes: 50_000,
      screenBytes: 300_000,
    });
    const recs = allRecordings(org, day);
    const byType = (t: string) => recs.find(x => x.rec.contentType === t)!;

    for (const type of [
      'audio/ogg',
      'audio/wav',
      'video/webm',
      'application/zip',
      'application/json',
    ]) {
      it(`should serve ${type} at its exact size, from any offset`, async () => {
        const {conv, rec} = byType(type);
        const media = mediaFor(conv, rec);
        const all = await bytesOf(media.stream());
        assert.strictEqual(all.length, media.size);
        for (const [s, e] of [
          [0, 0],
          [17, 4000],
          [media.size - 100, media.size - 1],
          [Math.floor(media.size / 2), media.size - 1],
        ] as const) {
          assert.ok(
            (await bytesOf(media.stream(s, e))).equals(all.subarray(s, e + 1)),
            `bytes ${s}-${e}`,
          );
        }
      });
    }

    it('should generate exactly the announced size for every size (Ogg, WAV, WebM)', async () => {
      const base = recs.find(x => x.rec.media === 'audio')!;
      const screen = recs.find(x => x.rec.media === 'screen')!;
      let x = 7;
      for (let i = 0; i < 150; i++) {
        x = (x * 1103515245 + 12345) >>> 0;
        const size = 4096 + (x % 400_000);
        for (const {conv, rec} of [base, screen]) {
          for (const contentType of rec.media === 'audio'
            ? ['audio/ogg', 'audio/wav']
            : ['video/webm']) {
            const media = mediaFor(conv, {...rec, size, contentType});
            let n = 0;
            for await (const chunk of media.stream()) n += (chunk as Buffer).length;
            assert.strictEqual(n, size, `${contentType} of ${size} bytes`);
          }
        }
      }
    });

    it('should write Ogg Opus with valid pages, CRCs and granule positions', async () => {
      const {conv, rec} = byType('audio/ogg');
      const buf = await bytesOf(mediaFor(conv, rec).stream());
      assert.strictEqual(buf.toString('ascii', 28, 36), 'OpusHead');
      const walk = walkOgg(buf);
      assert.ok(walk.pages >= 3);
      assert.strictEqual(
        walk.lastGranule,
        BigInt((walk.packets - 2) * 960),
        'granule counts 20 ms packets',
      );
    });

    it('should be accepted by opusinfo when it is installed', async function () {
      if (!hasCommand('opusinfo')) this.skip();
      const {conv, rec} = byType('audio/ogg');
      const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'grm-ogg-')), 'a.ogg');
      fs.writeFileSync(file, await bytesOf(mediaFor(conv, rec).stream()));
      const out = execFileSync('opusinfo', [file], {encoding: 'utf8'});
      assert.match(out, /Opus/);
      assert.doesNotMatch(out, /WARNING|error/i);
    });

    it('should write RIFF/WAVE PCM with consistent chunk sizes', async () => {
      const {conv, rec} = byType('audio/wav');
      const buf = await bytesOf(mediaFor(conv, rec).stream());
      assert.strictEqual(buf.toString('ascii', 0, 4), 'RIFF');
      assert.strictEqual(buf.readUInt32LE(4), buf.length - 8);
      assert.strictEqual(buf.toString('ascii', 8, 16), 'WAVEfmt ');
      assert.strictEqual(buf.readUInt32LE(40), buf.length - 44);
    });

    it('should write WebM: EBML header with doctype webm, a Segment sized to the file, clusters to the end', async () => {
      const {conv, rec} = byType('video/webm');
      const buf = await bytesOf(mediaFor(conv, rec).stream());
      assert.strictEqual(buf.readUInt32BE(0), 0x1a45dfa3);
      assert.ok(buf.includes(Buffer.from('webm')));
      assert.ok(buf.includes(Buffer.from('V_VP8')));
      const seg = buf.indexOf(Buffer.from([0x18, 0x53, 0x80, 0x67]));
      const size = buf.readUIntBE(seg + 6, 6);
      assert.strictEqual(seg + 12 + size, buf.length);
      let clusters = 0;
      let at = buf.indexOf(Buffer.from([0x1f, 0x43, 0xb6, 0x75]));
      while (at >= 0 && at < buf.length) {
        clusters++;
        at += 12 + buf.readUIntBE(at + 6, 6);
      }
      assert.strictEqual(at, buf.length, 'clusters tile the rest of the file');
      assert.ok(clusters >= 1);
    });

    it('should write email as a ZIP with the EML and its attachment, CRCs intact', async () => {
      const {conv, rec} = byType('application/zip');
      const buf = await bytesOf(mediaFor(conv, rec).stream());
      const eocd = buf.lastIndexOf(Buffer.from([0x50, 0x4b, 0x05, 0x06]));
      const entries = buf.readUInt16LE(eocd + 10);
      let cd = buf.readUInt32LE(eocd + 16);
      const names: string[] = [];
      for (let i = 0; i < entries; i++) {
        const nameLen = buf.readUInt16LE(cd + 28);
        const name = buf.toString('utf8', cd + 46, cd + 46 + nameLen);
        const local = buf.readUInt32LE(cd + 42);
        const size = buf.readUInt32LE(cd + 20);
        const data = buf.subarray(
          local + 30 + buf.readUInt16LE(local + 26),
          local + 30 + buf.readUInt16LE(local + 26) + size,
        );
        assert.strictEqual(crc32(data), buf.readUInt32LE(cd + 16), `CRC of ${name}`);
        if (name.endsWith('.eml'))
          assert.match(data.toString(), /^From: .*\r\nTo: .*\r\nSubject: /);
        names.push(name);
        cd += 46 + nameLen;
      }
      assert.deepStrictEqual(names, ['message.eml', 'attachments/statement.pdf']);
    });

    it('should mix every chat bodyType, in upper and live-chat lower case', () => {
      const chats = recs.filter(x => x.rec.media === 'chat');
      const types = new Set(
        chats.flatMap(({conv, rec}) => chatTranscript(conv, rec).map(m => String(m.bodyType))),
      );
      for (const t of ['STANDARD', 'NOTICE', 'TYPING', 'ACTIVITY', 'MEDIAREQUEST']) {
        assert.ok(
          [...types].some(x => x.toUpperCase().replace('-', '') === t),
          `missing ${t}`,
        );
      }
      assert.ok(
        [...types].some(t => t !== t.toUpperCase()),
        'some body types are lower case',
      );
    });

    it('should generate a multi-GiB recording lazily and serve its last bytes', async () => {
      const huge = new Organisation({
        seed: 'huge',
        conversationsPerDay: 200,
        screenBytes: 3 * 1024 ** 3,
      });
      const {conv, rec} = allRecordings(huge, day).find(x => x.rec.media === 'screen')!;
      const media = mediaFor(conv, rec);
      assert.ok(media.size > 1.5 * 1024 ** 3);
      const before = process.memoryUsage().rss;
      const tail = await bytesOf(media.stream(media.size - 1_000_000, media.size - 1));
      assert.strictEqual(tail.length, 1_000_000);
      assert.ok(process.memoryUsage().rss - before < 64 * 1024 * 1024);
    });
  });
});
