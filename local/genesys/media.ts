/**
 * Recording media, generated on the fly and deterministically from the
 * recording id: valid containers of an exact, configurable size, readable from
 * any byte offset (for Range requests) without materialising the file.
 *
 * - call audio: Ogg Opus (OpusHead/OpusTags, 20 ms CELT packets, real page
 *   CRCs and granule positions) or RIFF/WAVE PCM;
 * - screen recordings: WebM (EBML header, Segment, Info, Tracks with a VP8
 *   track, Clusters of SimpleBlocks);
 * - email: a ZIP holding the message as EML plus its attachment;
 * - chat and messaging: JSON transcripts (bare array or full Recording).
 *
 * Pseudo-random payload bytes come from an AES-128-CTR keystream keyed by the
 * recording id, which gives random access at native speed.
 */
import {createCipheriv} from 'node:crypto';
import {Readable} from 'node:stream';
import {crc32 as zipCrc32} from 'node:zlib';
import {hashBytes, Rng} from './random';
import type {Conversation, Organisation, Recording} from './org';

/** Bytes per generated piece when streaming. */
const CHUNK = 64 * 1024;

export interface Media {
  contentType: string;
  size: number;
  /** Bytes [start, end] inclusive. */
  stream(start?: number, end?: number): Readable;
}

/** How chat and messaging JSON is shaped. */
export type JsonShape = 'transcript' | 'recording' | 'mixed';

// ---- keystream ------------------------------------------------------------------

/** The AES key of a recording's payload bytes. */
function mediaKey(recordingId: string): Buffer {
  return hashBytes('media-key', recordingId).subarray(0, 16);
}

/** `length` pseudo-random bytes at `offset` of the recording's keystream. */
function keystream(key: Buffer, offset: number, length: number): Buffer {
  const block = Math.floor(offset / 16);
  const iv = Buffer.alloc(16);
  iv.writeBigUInt64BE(BigInt(block), 8);
  const cipher = createCipheriv('aes-128-ctr', key, iv);
  const skip = offset - block * 16;
  const out = cipher.update(Buffer.alloc(length + skip));
  return out.subarray(skip);
}

// ---- generic paged media --------------------------------------------------------

/** A media file made of a header and pieces whose offsets are computable. */
interface Layout {
  size: number;
  /** The piece index holding byte `offset` and that piece's first byte. */
  locate(offset: number): {piece: number; pieceStart: number};
  build(piece: number): Buffer;
  pieces: number;
}

function streamLayout(layout: Layout, start = 0, end = layout.size - 1): Readable {
  let {piece, pieceStart} = layout.locate(start);
  let pos = start;
  return new Readable({
    read() {
      if (pos > end || piece >= layout.pieces) return void this.push(null);
      const buf = layout.build(piece);
      const from = pos - pieceStart;
      const to = Math.min(buf.length, end - pieceStart + 1);
      pieceStart += buf.length;
      piece++;
      pos += to - from;
      this.push(buf.subarray(from, to));
    },
  });
}

function fixedPieces(
  header: Buffer,
  size: number,
  pieceSize: number,
  body: (piece: number, len: number) => Buffer,
): Layout {
  const bodySize = size - header.length;
  const n = Math.ceil(bodySize / pieceSize);
  return {
    size,
    pieces: n + 1,
    locate(offset) {
      if (offset < header.length) return {piece: 0, pieceStart: 0};
      const p = Math.floor((offset - header.length) / pieceSize);
      return {piece: p + 1, pieceStart: header.length + p * pieceSize};
    },
    build(piece) {
      if (piece === 0) return header;
      const len = Math.min(pieceSize, bodySize - (piece - 1) * pieceSize);
      return body(piece - 1, len);
    },
  };
}

// ---- Ogg Opus -------------------------------------------------------------------

const OGG_CRC = (() => {
  const t = new Uint32Array(256);
  for (let i = 0; i < 256; i++) {
    let r = i << 24;
    for (let j = 0; j < 8; j++) r = r & 0x80000000 ? (r << 1) ^ 0x04c11db7 : r << 1;
    t[i] = r >>> 0;
  }
  return t;
})();

function oggCrc(buf: Buffer): number {
  let crc = 0;
  for (let i = 0; i < buf.length; i++)
    crc = ((crc << 8) ^ OGG_CRC[((crc >>> 24) ^ buf[i]!) & 0xff]!) >>> 0;
  return crc;
}

function oggPage(
  serial: number,
  seq: number,
  granule: bigint,
  flags: number,
  packets: Buffer[],
): Buffer {
  const lacing: number[] = [];
  for (const p of packets) {
    let n = p.length;
    while (n >= 255) {
      lacing.push(255);
      n -= 255;
    }
    lacing.push(n);
  }
  const header = Buffer.alloc(27 + lacing.length);
  header.write('OggS', 0, 'ascii');
  header[4] = 0;
  header[5] = flags;
  header.writeBigUInt64LE(granule, 6);
  header.writeUInt32LE(serial, 14);
  header.writeUInt32LE(seq, 18);
  header[26] = lacing.length;
  lacing.forEach((l, i) => (header[27 + i] = l));
  const page = Buffer.concat([header, ...packets]);
  page.writeUInt32LE(oggCrc(page), 22);
  return page;
}

const OPUS_PACKET = 160; // bytes: 64 kbit/s at 20 ms per packet
const OPUS_PER_PAGE = 50;
const OPUS_SAMPLES = 960; // 20 ms at 48 kHz
const OPUS_PAGE = 27 + OPUS_PER_PAGE + OPUS_PER_PAGE * OPUS_PACKET;

function opusLayout(rec: Recording, size: number): Layout {
  const serial = hashBytes('ogg-serial', rec.id).readUInt32BE(0);
  const head = Buffer.alloc(19);
  head.write('OpusHead', 0, 'ascii');
  head[8] = 1;
  head[9] = 1; // mono
  head.writeUInt16LE(312, 10);
  head.writeUInt32LE(48000, 12);
  const vendor = Buffer.from('genesys-simulator');
  const comment = Buffer.from(`RECORDING_ID=${rec.id}`);
  const tags = Buffer.alloc(8 + 4 + vendor.length + 4 + 4 + comment.length);
  tags.write('OpusTags', 0, 'ascii');
  tags.writeUInt32LE(vendor.length, 8);
  vendor.copy(tags, 12);
  tags.writeUInt32LE(1, 12 + vendor.length);
  tags.writeUInt32LE(comment.length, 16 + vendor.length);
  comment.copy(tags, 20 + vendor.length);
  const headers = Buffer.concat([
    oggPage(serial, 0, 0n, 0x02, [head]),
    oggPage(serial, 1, 0n, 0, [tags]),
  ]);

  // Full audio pages, then one last (EOS) page sized so the file is exactly `size`.
  let full = Math.floor((size - headers.length) / OPUS_PAGE);
  let rest = size - headers.length - full * OPUS_PAGE;
  if (rest < 29) {
    full -= 1;
    rest += OPUS_PAGE;
  }
  const tailPackets = Math.floor((rest - 29) / (OPUS_PACKET + 1));
  const tailLast = rest - 28 - tailPackets * (OPUS_PACKET + 1);
  const key = mediaKey(rec.id);
  const audioPage = (page: number): Buffer => {
    const last = page === full;
    const count = last ? tailPackets + 1 : OPUS_PER_PAGE;
    // One keystream draw per page, cut into packets.
    // The tail packet can be one byte longer than OPUS_PACKET; draw for the longest case.
    const payload = keystream(key, page * OPUS_PER_PAGE * OPUS_PACKET, (count + 1) * OPUS_PACKET);
    const packets = Array.from({length: count}, (_, k) => {
      const len = last && k === count - 1 ? tailLast : OPUS_PACKET;
      const p = payload.subarray(k * OPUS_PACKET, k * OPUS_PACKET + len);
      p[0] = 0xf8; // TOC: CELT-only fullband 20 ms, mono, one frame
      return p;
    });
    const granule = BigInt((page * OPUS_PER_PAGE + count) * OPUS_SAMPLES);
    return oggPage(serial, page + 2, granule, last ? 0x04 : 0, packets);
  };
  return {
    size,
    pieces: full + 2,
    locate(offset) {
      if (offset < headers.length) return {piece: 0, pieceStart: 0};
      const p = Math.min(Math.floor((offset - headers.length) / OPUS_PAGE), full);
      return {piece: p + 1, pieceStart: headers.length + p * OPUS_PAGE};
    },
    build(piece) {
      return piece === 0 ? headers : audioPage(piece - 1);
    },
  };
}

// ---- WAV ------------------------------------------------------------------------

function wavLayout(rec: Recording, size: number): Layout {
  const header = Buffer.alloc(44);
  header.write('RIFF', 0, 'ascii');
  header.writeUInt32LE(size - 8, 4);
  header.write('WAVEfmt ', 8, 'ascii');
  header.writeUInt32LE(16, 16);
  header.writeUInt16LE(1, 20); // PCM
  header.writeUInt16LE(1, 22); // mono
  header.writeUInt32LE(8000, 24);
  header.writeUInt32LE(16000, 28);
  header.writeUInt16LE(2, 32);
  header.writeUInt16LE(16, 34);
  header.write('data', 36, 'ascii');
  header.writeUInt32LE(size - 44, 40);
  const key = mediaKey(rec.id);
  return fixedPieces(header, size, CHUNK, (piece, len) => {
    const data = keystream(key, piece * CHUNK, len);
    // Quiet noise: keep 16-bit samples within about +-2048.
    for (let i = 1; i < data.length; i += 2)
      data[i] = data[i]! & 0x80 ? data[i]! | 0xf8 : data[i]! & 0x07;
    return data;
  });
}

// ---- WebM -----------------------------------------------------------------------

function ebml(id: number[], body: Buffer): Buffer {
  return Buffer.concat([Buffer.from(id), vint8(body.length), body]);
}

/** An 8-byte EBML size (0x01 + 7 bytes), so sizes are fixed-width. */
function vint8(n: number): Buffer {
  const b = Buffer.alloc(8);
  b[0] = 0x01;
  b.writeUIntBE(n, 2, 6);
  return b;
}

function uintEl(id: number[], value: number, bytes: number): Buffer {
  const b = Buffer.alloc(bytes);
  b.writeUIntBE(value, 0, bytes);
  return ebml(id, b);
}

const WEBM_FRAME = 64 * 1024;
const CLUSTER_OVERHEAD = 4 + 8 + (1 + 8 + 4) + (1 + 8 + 4); // Cluster id+size, Timecode, SimpleBlock head

function webmLayout(rec: Recording, size: number): Layout {
  const docHeader = ebml(
    [0x1a, 0x45, 0xdf, 0xa3],
    Buffer.concat([
      uintEl([0x42, 0x86], 1, 1),
      uintEl([0x42, 0xf7], 1, 1),
      uintEl([0x42, 0xf2], 4, 1),
      uintEl([0x42, 0xf3], 8, 1),
      ebml([0x42, 0x82], Buffer.from('webm')),
      uintEl([0x42, 0x87], 4, 1),
      uintEl([0x42, 0x85], 2, 1),
    ]),
  );
  const info = ebml(
    [0x15, 0x49, 0xa9, 0x66],
    Buffer.concat([
      uintEl([0x2a, 0xd7, 0xb1], 1_000_000, 4),
      ebml([0x4d, 0x80], Buffer.from('genesys-simulator')),
      ebml([0x57, 0x41], Buffer.from('genesys-simulator')),
    ]),
  );
  const video = ebml([0xe0], Buffer.concat([uintEl([0xb0], 1280, 2), uintEl([0xba], 720, 2)]));
  const tracks = ebml(
    [0x16, 0x54, 0xae, 0x6b],
    ebml(
      [0xae],
      Buffer.concat([
        uintEl([0xd7], 1, 1),
        uintEl([0x73, 0xc5], 1, 1),
        uintEl([0x83], 1, 1),
        ebml([0x86], Buffer.from('V_VP8')),
        video,
      ]),
    ),
  );
  const segmentHead = Buffer.concat([Buffer.from([0x18, 0x53, 0x80, 0x67]), Buffer.alloc(8)]);
  const header = Buffer.concat([docHeader, segmentHead, info, tracks]);
  const segmentSizeAt = docHeader.length + 4;
  vint8(size - docHeader.length - 12).copy(header, segmentSizeAt);

  const body = size - header.length;
  const clusterSize = CLUSTER_OVERHEAD + WEBM_FRAME;
  let full = Math.floor(body / clusterSize);
  let rest = body - full * clusterSize;
  if (rest > 0 && rest < CLUSTER_OVERHEAD + 10) {
    full -= 1;
    rest += clusterSize;
  }
  const clusters = full + (rest > 0 ? 1 : 0);
  const key = mediaKey(rec.id);
  const cluster = (i: number): Buffer => {
    const frameLen = i < full ? WEBM_FRAME : rest - CLUSTER_OVERHEAD;
    const frame = keystream(key, i * WEBM_FRAME, frameLen);
    // VP8 key-frame tag, start code and 1280x720 dimensions.
    const tag = ((frameLen - 10) << 5) | 0x10; // key frame, version 0, show_frame
    frame.writeUIntLE(tag & 0xffffff, 0, 3);
    frame.set([0x9d, 0x01, 0x2a], 3);
    frame.writeUInt16LE(1280, 6);
    frame.writeUInt16LE(720, 8);
    const block = Buffer.concat([Buffer.from([0x81, 0x00, 0x00, 0x80]), frame]);
    return ebml(
      [0x1f, 0x43, 0xb6, 0x75],
      Buffer.concat([uintEl([0xe7], i * 1000, 4), ebml([0xa3], block)]),
    );
  };
  return {
    size,
    pieces: clusters + 1,
    locate(offset) {
      if (offset < header.length) return {piece: 0, pieceStart: 0};
      const c = Math.min(Math.floor((offset - header.length) / clusterSize), clusters - 1);
      return {piece: c + 1, pieceStart: header.length + c * clusterSize};
    },
    build(piece) {
      return piece === 0 ? header : cluster(piece - 1);
    },
  };
}

// ---- JSON transcripts and email ZIP ---------------------------------------------

const BODY_TYPES = [
  'MEMBERJOIN',
  'STANDARD',
  'TYPING',
  'NOTICE',
  'STANDARD',
  'ACTIVITY',
  'STANDARD',
  'MEDIAREQUEST',
  'STANDARD',
  'MEMBERLEAVE',
];
const LINES = [
  'Hello, I need help with my card.',
  'Of course, can you confirm your date of birth?',
  'It is the 3rd of March.',
  'Thank you. I can see the block; removing it now.',
  'Great, thanks a lot!',
];

/** A chat transcript mixing every bodyType (some in lower/hyphenated form, as live chat sends). */
export function chatTranscript(conv: Conversation, rec: Recording): Array<Record<string, unknown>> {
  const rng = new Rng(rec.id, 'chat');
  const start = conv.startMs;
  let line = 0;
  return BODY_TYPES.map((bodyType, i) => {
    const agentSide = i % 2 === 1;
    const msg: Record<string, unknown> = {
      id: `${rec.id.slice(0, 8)}-m${i}`,
      bodyType:
        rng.chance(0.2) && bodyType !== 'STANDARD'
          ? bodyType.toLowerCase().replace('member', 'member-')
          : bodyType,
      utc: new Date(start + i * 15_000).toISOString(),
      participantPurpose: agentSide ? 'agent' : 'customer',
      senderCommunicationId: `${conv.id.slice(0, 8)}-${agentSide ? 'agent' : 'customer'}`,
    };
    if (bodyType === 'STANDARD') msg.body = LINES[line++ % LINES.length];
    if (bodyType === 'NOTICE') msg.body = `${conv.agent.name} has joined the conversation`;
    if (agentSide) msg.user = {id: conv.agent.id, name: conv.agent.name};
    return msg;
  });
}

export function messagingTranscript(
  conv: Conversation,
  rec: Recording,
): Array<Record<string, unknown>> {
  return LINES.map((text, i) => {
    const agentSide = i % 2 === 1;
    const m: Record<string, unknown> = {
      id: `${rec.id.slice(0, 8)}-mm${i}`,
      timestamp: new Date(conv.startMs + i * 60_000).toISOString(),
      purpose: agentSide ? 'agent' : 'customer',
      from: `${conv.id.slice(0, 8)}-${agentSide ? 'agent' : 'customer'}`,
      messageText: text,
    };
    if (agentSide) m.fromUser = {id: conv.agent.id, name: conv.agent.name};
    if (i === 0) {
      m.messageMediaAttachments = [
        {
          id: `${rec.id.slice(0, 8)}-att`,
          name: 'card.jpg',
          mediaType: 'image/jpeg',
          contentLength: 48213,
        },
      ];
    }
    return m;
  });
}

export function emailTranscript(
  conv: Conversation,
  rec: Recording,
): Array<Record<string, unknown>> {
  return [
    {
      id: `${rec.id.slice(0, 8)}-em0`,
      time: new Date(conv.startMs).toISOString(),
      subject: conv.subject,
      from: {email: conv.customer.address, name: conv.customer.name},
      to: [{email: 'support@bank.example'}],
      textBody: 'Please see the attached statement.',
      htmlBody: '<p>Please see the attached statement.</p>',
      attachments: [
        {
          attachmentId: `${rec.id.slice(0, 8)}-a1`,
          name: 'statement.pdf',
          contentType: 'application/pdf',
          contentLength: 0,
        },
      ],
    },
  ];
}

function recordingObject(
  conv: Conversation,
  rec: Recording,
  key: string,
  transcript: unknown,
): Record<string, unknown> {
  return {
    id: rec.id,
    conversationId: conv.id,
    media: rec.media,
    fileState: rec.fileState,
    sessionId: rec.sessionId,
    endTime: rec.endTime,
    [key]: transcript,
    users: [{id: conv.agent.id, name: conv.agent.name}],
    recordingFileRole: 'CUSTOMER_EXPERIENCE',
    creationTime: rec.endTime,
  };
}

function jsonBody(conv: Conversation, rec: Recording, shape: JsonShape): Buffer {
  const transcript =
    rec.media === 'chat' ? chatTranscript(conv, rec) : messagingTranscript(conv, rec);
  const key = rec.media === 'chat' ? 'transcript' : 'messagingTranscript';
  const asRecording =
    shape === 'recording' || (shape === 'mixed' && new Rng(rec.id, 'shape').chance(0.5));
  return Buffer.from(
    JSON.stringify(asRecording ? recordingObject(conv, rec, key, transcript) : transcript),
  );
}

function pdfBytes(rec: Recording): Buffer {
  return Buffer.from(
    `%PDF-1.4\n% statement for recording ${rec.id}\n1 0 obj<</Type/Catalog>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n`,
  );
}

function emlBytes(conv: Conversation, rec: Recording): Buffer {
  const boundary = `b-${rec.id.slice(0, 8)}`;
  const pdf = pdfBytes(rec).toString('base64');
  return Buffer.from(
    [
      `From: ${conv.customer.name} <${conv.customer.address}>`,
      'To: support@bank.example',
      `Subject: ${conv.subject ?? ''}`,
      `Date: ${new Date(conv.startMs).toUTCString()}`,
      `Message-ID: <${rec.id}@simulator.local>`,
      'MIME-Version: 1.0',
      `Content-Type: multipart/mixed; boundary="${boundary}"`,
      '',
      `--${boundary}`,
      'Content-Type: text/plain; charset=utf-8',
      '',
      'Please see the attached statement.',
      `--${boundary}`,
      'Content-Type: application/pdf; name="statement.pdf"',
      'Content-Transfer-Encoding: base64',
      'Content-Disposition: attachment; filename="statement.pdf"',
      '',
      pdf,
      `--${boundary}--`,
      '',
    ].join('\r\n'),
  );
}

const DOS_FIRST_MS = Date.UTC(1980, 0, 1);
const DOS_LAST_MS = Date.UTC(2107, 11, 31, 23, 59, 58);

/** A stored (uncompressed) ZIP archive. */
export function zipStore(entries: Array<{name: string; data: Buffer; time: Date}>): Buffer {
  const locals: Buffer[] = [];
  const centrals: Buffer[] = [];
  let offset = 0;
  for (const e of entries) {
    const name = Buffer.from(e.name);
    const crc = zipCrc32(e.data);
    // MS-DOS dates cover 1980..2107; like Info-ZIP, clamp times outside that range.
    const t = new Date(Math.min(Math.max(e.time.getTime(), DOS_FIRST_MS), DOS_LAST_MS));
    const dosTime =
      (t.getUTCHours() << 11) | (t.getUTCMinutes() << 5) | Math.floor(t.getUTCSeconds() / 2);
    const dosDate =
      ((t.getUTCFullYear() - 1980) << 9) | ((t.getUTCMonth() + 1) << 5) | t.getUTCDate();
    const local = Buffer.alloc(30);
    local.writeUInt32LE(0x04034b50, 0);
    local.writeUInt16LE(20, 4);
    local.writeUInt16LE(0x0800, 6); // UTF-8 names
    local.writeUInt16LE(0, 8);
    local.writeUInt16LE(dosTime, 10);
    local.writeUInt16LE(dosDate, 12);
    local.writeUInt32LE(crc, 14);
    local.writeUInt32LE(e.data.length, 18);
    local.writeUInt32LE(e.data.length, 22);
    local.writeUInt16LE(name.length, 26);
    locals.push(local, name, e.data);
    const central = Buffer.alloc(46);
    central.writeUInt32LE(0x02014b50, 0);
    central.writeUInt16LE(20, 4);
    central.writeUInt16LE(20, 6);
    central.writeUInt16LE(0x0800, 8);
    central.writeUInt16LE(dosTime, 12);
    central.writeUInt16LE(dosDate, 14);
    central.writeUInt32LE(crc, 16);
    central.writeUInt32LE(e.data.length, 20);
    central.writeUInt32LE(e.data.length, 24);
    central.writeUInt16LE(name.length, 28);
    central.writeUInt32LE(offset, 42);
    centrals.push(central, name);
    offset += 30 + name.length + e.data.length;
  }
  const cd = Buffer.concat(centrals);
  const end = Buffer.alloc(22);
  end.writeUInt32LE(0x06054b50, 0);
  end.writeUInt16LE(entries.length, 8);
  end.writeUInt16LE(entries.length, 10);
  end.writeUInt32LE(cd.length, 12);
  end.writeUInt32LE(offset, 16);
  return Buffer.concat([...locals, cd, end]);
}

function bufferMedia(contentType: string, buf: Buffer): Media {
  return {
    contentType,
    size: buf.length,
    stream(start = 0, end = buf.length - 1) {
      return Readable.from([buf.subarray(start, end + 1)]);
    },
  };
}

/** The media the simulator serves for a recording. */
export function mediaFor(conv: Conversation, rec: Recording, shape: JsonShape = 'mixed'): Media {
  switch (rec.media) {
    case 'audio': {
      const layout =
        rec.contentType === 'audio/wav' ? wavLayout(rec, rec.size) : opusLayout(rec, rec.size);
      return {
        contentType: rec.contentType,
        size: layout.size,
        stream: (s, e) => streamLayout(layout, s, e),
      };
    }
    case 'screen': {
      const layout = webmLayout(rec, rec.size);
      return {
        contentType: rec.contentType,
        size: layout.size,
        stream: (s, e) => streamLayout(layout, s, e),
      };
    }
    case 'email': {
      const time = new Date(conv.startMs);
      const zip = zipStore([
        {name: 'message.eml', data: emlBytes(conv, rec), time},
        {name: 'attachments/statement.pdf', data: pdfBytes(rec), time},
      ]);
      return bufferMedia(rec.contentType, zip);
    }
    default:
      return bufferMedia(rec.contentType, jsonBody(conv, rec, shape));
  }
}

/** Media of a recording looked up through the organisation. */
export function mediaOf(
  org: Organisation,
  conversationId: string,
  recordingId: string,
  shape?: JsonShape,
): Media | undefined {
  const conv = org.find(conversationId);
  const rec = conv?.recordings.find(r => r.id === recordingId);
  return conv && rec ? mediaFor(conv, rec, shape) : undefined;
}
