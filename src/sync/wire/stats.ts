/**
 * Receive-side rejection counters (spec §1.5, §5.7 "network statistics"). Plain numeric fields,
 * read by metrics at scrape time. Every rejection increments `malformed` (conntrackd's
 * "Malformed messages") plus exactly one specific counter; payload rejections also increment
 * one sub-reason counter so operators can tell *why* a payload was refused.
 */
export class WireRxStats {
  /** UDP datagrams (or stream reads) walked. */
  datagrams = 0;
  /** Messages whose header passed the size checks (before the version check). */
  messages = 0;
  /** Payload bytes walked. */
  bytes = 0;

  /** conntrackd "Malformed messages": sum of every rejection below. */
  malformed = 0;
  /** "Truncated message": fewer than 8 (or 16 for the ACK form) bytes left. */
  truncated = 0;
  /** "Bad message size": len 0, len past the datagram end, or len below the header size. */
  badSize = 0;
  /** "Wrong protocol version". */
  badVersion = 0;
  /** "Bad message type": type 6..9 or 11..15 on a non-control message. */
  badType = 0;
  /** "Malformed payload": attribute parse failure (one of the sub-reasons below). */
  malformedPayload = 0;

  // Sub-reasons of malformedPayload (WireDecodeError.reason).
  /** Attribute id >= NTA_MAX (33 for conntracks, 21 for expectations). */
  unknownAttr = 0;
  /** Fixed-size attribute with nta_len != 4 + size. */
  badAttrSize = 0;
  /** nta_len larger than the bytes left in the message. */
  attrPastEnd = 0;
  /** nta_len < 4. */
  attrTooShort = 0;
  /** Variable attribute above its maximum (helper name 16, labels 1028, exp fn 32). */
  attrTooLong = 0;
  /** No original tuple (NTA_IPV4/NTA_IPV6, or an expectation tuple group) in the message. */
  missingTuple = 0;
}

/** Names of the payload sub-reasons: WireDecodeError.reason is always one of these. */
export type WirePayloadReason = 'unknownAttr' | 'badAttrSize' | 'attrPastEnd' | 'attrTooShort' | 'attrTooLong' | 'missingTuple';
