/** conntrackd sync protocol v1 constants, with their C names (spec §1-§3). */

export const PROTOCOL_VERSION = 1;
export const NETHDR_SIZE = 8;
export const NETHDR_ACK_SIZE = 16;

/** Message types: low nibble of byte 0 (spec §2.1). */
export const NET_T = {
  STATE_CT_NEW: 0,
  STATE_CT_UPD: 1,
  STATE_CT_DEL: 2,
  STATE_EXP_NEW: 3,
  STATE_EXP_UPD: 4,
  STATE_EXP_DEL: 5,
  CTL: 10,
} as const;

/** Flags: byte 1 (spec §2.2). */
export const NET_F = {
  UNUSED: 0x01,
  RESYNC: 0x02,
  NACK: 0x04,
  ACK: 0x08,
  ALIVE: 0x10,
  HELLO: 0x20,
  HELLO_BACK: 0x40,
} as const;

/** Conntrack attribute ids (spec §3.2). */
export const NTA = {
  IPV4: 0,
  IPV6: 1,
  L4PROTO: 2,
  PORT: 3,
  TCP_STATE: 4,
  STATUS: 5,
  TIMEOUT: 6,
  MARK: 7,
  MASTER_IPV4: 8,
  MASTER_IPV6: 9,
  MASTER_L4PROTO: 10,
  MASTER_PORT: 11,
  SNAT_IPV4: 12,
  DNAT_IPV4: 13,
  SPAT_PORT: 14,
  DPAT_PORT: 15,
  NAT_SEQ_ADJ: 16,
  SCTP_STATE: 17,
  SCTP_VTAG_ORIG: 18,
  SCTP_VTAG_REPL: 19,
  DCCP_STATE: 20,
  DCCP_ROLE: 21,
  ICMP_TYPE: 22,
  ICMP_CODE: 23,
  ICMP_ID: 24,
  TCP_WSCALE_ORIG: 25,
  TCP_WSCALE_REPL: 26,
  HELPER_NAME: 27,
  LABELS: 28,
  SNAT_IPV6: 29,
  DNAT_IPV6: 30,
  SYNPROXY: 31,
  ZONE: 32,
} as const;
export const NTA_MAX = 33;

/** Expectation attribute ids (spec §3.5). */
export const NTA_EXP = {
  MASTER_IPV4: 0,
  MASTER_IPV6: 1,
  MASTER_L4PROTO: 2,
  MASTER_PORT: 3,
  EXPECT_IPV4: 4,
  EXPECT_IPV6: 5,
  EXPECT_L4PROTO: 6,
  EXPECT_PORT: 7,
  MASK_IPV4: 8,
  MASK_IPV6: 9,
  MASK_L4PROTO: 10,
  MASK_PORT: 11,
  TIMEOUT: 12,
  FLAGS: 13,
  CLASS: 14,
  NAT_IPV4: 15,
  NAT_PORT: 16,
  NAT_L4PROTO: 17,
  NAT_DIR: 18,
  HELPER_NAME: 19,
  FN: 20,
} as const;
export const NTA_EXP_MAX = 21;
