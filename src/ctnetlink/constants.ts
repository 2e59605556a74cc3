/**
 * ctnetlink attribute ids with the kernel's C names (linux/netfilter/nfnetlink_conntrack.h,
 * generated from the uapi header of linux-libc-dev and checked in; grep `CTA_X_Y` as `CTA_X.Y`).
 * Message types and nlmsg flags live in netlink/message.ts.
 */

/** enum ctattr_type */
export const CTA = {
  UNSPEC: 0, // CTA_UNSPEC
  TUPLE_ORIG: 1, // CTA_TUPLE_ORIG
  TUPLE_REPLY: 2, // CTA_TUPLE_REPLY
  STATUS: 3, // CTA_STATUS
  PROTOINFO: 4, // CTA_PROTOINFO
  HELP: 5, // CTA_HELP
  NAT_SRC: 6, // CTA_NAT_SRC
  TIMEOUT: 7, // CTA_TIMEOUT
  MARK: 8, // CTA_MARK
  COUNTERS_ORIG: 9, // CTA_COUNTERS_ORIG
  COUNTERS_REPLY: 10, // CTA_COUNTERS_REPLY
  USE: 11, // CTA_USE
  ID: 12, // CTA_ID
  NAT_DST: 13, // CTA_NAT_DST
  TUPLE_MASTER: 14, // CTA_TUPLE_MASTER
  SEQ_ADJ_ORIG: 15, // CTA_SEQ_ADJ_ORIG
  NAT_SEQ_ADJ_ORIG: 15, // CTA_NAT_SEQ_ADJ_ORIG
  SEQ_ADJ_REPLY: 16, // CTA_SEQ_ADJ_REPLY
  NAT_SEQ_ADJ_REPLY: 16, // CTA_NAT_SEQ_ADJ_REPLY
  SECMARK: 17, // CTA_SECMARK
  ZONE: 18, // CTA_ZONE
  SECCTX: 19, // CTA_SECCTX
  TIMESTAMP: 20, // CTA_TIMESTAMP
  MARK_MASK: 21, // CTA_MARK_MASK
  LABELS: 22, // CTA_LABELS
  LABELS_MASK: 23, // CTA_LABELS_MASK
  SYNPROXY: 24, // CTA_SYNPROXY
  FILTER: 25, // CTA_FILTER
  STATUS_MASK: 26, // CTA_STATUS_MASK
} as const;

/** enum ctattr_tuple */
export const CTA_TUPLE = {
  UNSPEC: 0, // CTA_TUPLE_UNSPEC
  IP: 1, // CTA_TUPLE_IP
  PROTO: 2, // CTA_TUPLE_PROTO
  ZONE: 3, // CTA_TUPLE_ZONE
} as const;

/** enum ctattr_ip */
export const CTA_IP = {
  UNSPEC: 0, // CTA_IP_UNSPEC
  V4_SRC: 1, // CTA_IP_V4_SRC
  V4_DST: 2, // CTA_IP_V4_DST
  V6_SRC: 3, // CTA_IP_V6_SRC
  V6_DST: 4, // CTA_IP_V6_DST
} as const;

/** enum ctattr_l4proto */
export const CTA_PROTO = {
  UNSPEC: 0, // CTA_PROTO_UNSPEC
  NUM: 1, // CTA_PROTO_NUM
  SRC_PORT: 2, // CTA_PROTO_SRC_PORT
  DST_PORT: 3, // CTA_PROTO_DST_PORT
  ICMP_ID: 4, // CTA_PROTO_ICMP_ID
  ICMP_TYPE: 5, // CTA_PROTO_ICMP_TYPE
  ICMP_CODE: 6, // CTA_PROTO_ICMP_CODE
  ICMPV6_ID: 7, // CTA_PROTO_ICMPV6_ID
  ICMPV6_TYPE: 8, // CTA_PROTO_ICMPV6_TYPE
  ICMPV6_CODE: 9, // CTA_PROTO_ICMPV6_CODE
} as const;

/** enum ctattr_protoinfo */
export const CTA_PROTOINFO = {
  UNSPEC: 0, // CTA_PROTOINFO_UNSPEC
  TCP: 1, // CTA_PROTOINFO_TCP
  DCCP: 2, // CTA_PROTOINFO_DCCP
  SCTP: 3, // CTA_PROTOINFO_SCTP
} as const;

/** enum ctattr_protoinfo_tcp */
export const CTA_PROTOINFO_TCP = {
  UNSPEC: 0, // CTA_PROTOINFO_TCP_UNSPEC
  STATE: 1, // CTA_PROTOINFO_TCP_STATE
  WSCALE_ORIGINAL: 2, // CTA_PROTOINFO_TCP_WSCALE_ORIGINAL
  WSCALE_REPLY: 3, // CTA_PROTOINFO_TCP_WSCALE_REPLY
  FLAGS_ORIGINAL: 4, // CTA_PROTOINFO_TCP_FLAGS_ORIGINAL
  FLAGS_REPLY: 5, // CTA_PROTOINFO_TCP_FLAGS_REPLY
} as const;

/** enum ctattr_protoinfo_dccp */
export const CTA_PROTOINFO_DCCP = {
  UNSPEC: 0, // CTA_PROTOINFO_DCCP_UNSPEC
  STATE: 1, // CTA_PROTOINFO_DCCP_STATE
  ROLE: 2, // CTA_PROTOINFO_DCCP_ROLE
  HANDSHAKE_SEQ: 3, // CTA_PROTOINFO_DCCP_HANDSHAKE_SEQ
  PAD: 4, // CTA_PROTOINFO_DCCP_PAD
} as const;

/** enum ctattr_protoinfo_sctp */
export const CTA_PROTOINFO_SCTP = {
  UNSPEC: 0, // CTA_PROTOINFO_SCTP_UNSPEC
  STATE: 1, // CTA_PROTOINFO_SCTP_STATE
  VTAG_ORIGINAL: 2, // CTA_PROTOINFO_SCTP_VTAG_ORIGINAL
  VTAG_REPLY: 3, // CTA_PROTOINFO_SCTP_VTAG_REPLY
} as const;

/** enum ctattr_counters */
export const CTA_COUNTERS = {
  UNSPEC: 0, // CTA_COUNTERS_UNSPEC
  PACKETS: 1, // CTA_COUNTERS_PACKETS
  BYTES: 2, // CTA_COUNTERS_BYTES
  COUNTERS32_PACKETS: 3, // CTA_COUNTERS32_PACKETS
  COUNTERS32_BYTES: 4, // CTA_COUNTERS32_BYTES
  PAD: 5, // CTA_COUNTERS_PAD
} as const;

/** enum ctattr_tstamp */
export const CTA_TIMESTAMP = {
  UNSPEC: 0, // CTA_TIMESTAMP_UNSPEC
  START: 1, // CTA_TIMESTAMP_START
  STOP: 2, // CTA_TIMESTAMP_STOP
  PAD: 3, // CTA_TIMESTAMP_PAD
} as const;

/** enum ctattr_nat */
export const CTA_NAT = {
  UNSPEC: 0, // CTA_NAT_UNSPEC
  V4_MINIP: 1, // CTA_NAT_V4_MINIP
  V4_MAXIP: 2, // CTA_NAT_V4_MAXIP
  PROTO: 3, // CTA_NAT_PROTO
  V6_MINIP: 4, // CTA_NAT_V6_MINIP
  V6_MAXIP: 5, // CTA_NAT_V6_MAXIP
} as const;

/** enum ctattr_protonat */
export const CTA_PROTONAT = {
  UNSPEC: 0, // CTA_PROTONAT_UNSPEC
  PORT_MIN: 1, // CTA_PROTONAT_PORT_MIN
  PORT_MAX: 2, // CTA_PROTONAT_PORT_MAX
} as const;

/** enum ctattr_seqadj */
export const CTA_SEQADJ = {
  UNSPEC: 0, // CTA_SEQADJ_UNSPEC
  CORRECTION_POS: 1, // CTA_SEQADJ_CORRECTION_POS
  OFFSET_BEFORE: 2, // CTA_SEQADJ_OFFSET_BEFORE
  OFFSET_AFTER: 3, // CTA_SEQADJ_OFFSET_AFTER
} as const;

/** enum ctattr_natseq */
export const CTA_NAT_SEQ = {
  UNSPEC: 0, // CTA_NAT_SEQ_UNSPEC
  CORRECTION_POS: 1, // CTA_NAT_SEQ_CORRECTION_POS
  OFFSET_BEFORE: 2, // CTA_NAT_SEQ_OFFSET_BEFORE
  OFFSET_AFTER: 3, // CTA_NAT_SEQ_OFFSET_AFTER
} as const;

/** enum ctattr_synproxy */
export const CTA_SYNPROXY = {
  UNSPEC: 0, // CTA_SYNPROXY_UNSPEC
  ISN: 1, // CTA_SYNPROXY_ISN
  ITS: 2, // CTA_SYNPROXY_ITS
  TSOFF: 3, // CTA_SYNPROXY_TSOFF
} as const;

/** enum ctattr_expect */
export const CTA_EXPECT = {
  UNSPEC: 0, // CTA_EXPECT_UNSPEC
  MASTER: 1, // CTA_EXPECT_MASTER
  TUPLE: 2, // CTA_EXPECT_TUPLE
  MASK: 3, // CTA_EXPECT_MASK
  TIMEOUT: 4, // CTA_EXPECT_TIMEOUT
  ID: 5, // CTA_EXPECT_ID
  HELP_NAME: 6, // CTA_EXPECT_HELP_NAME
  ZONE: 7, // CTA_EXPECT_ZONE
  FLAGS: 8, // CTA_EXPECT_FLAGS
  CLASS: 9, // CTA_EXPECT_CLASS
  NAT: 10, // CTA_EXPECT_NAT
  FN: 11, // CTA_EXPECT_FN
} as const;

/** enum ctattr_expect_nat */
export const CTA_EXPECT_NAT = {
  UNSPEC: 0, // CTA_EXPECT_NAT_UNSPEC
  DIR: 1, // CTA_EXPECT_NAT_DIR
  TUPLE: 2, // CTA_EXPECT_NAT_TUPLE
} as const;

/** enum ctattr_help */
export const CTA_HELP = {
  UNSPEC: 0, // CTA_HELP_UNSPEC
  NAME: 1, // CTA_HELP_NAME
  INFO: 2, // CTA_HELP_INFO
} as const;

/** enum ctattr_secctx */
export const CTA_SECCTX = {
  UNSPEC: 0, // CTA_SECCTX_UNSPEC
  NAME: 1, // CTA_SECCTX_NAME
} as const;

/** struct nf_ct_tcp_flags bits (linux/netfilter/nf_conntrack_tcp.h). */
export const IP_CT_TCP_FLAG = {
  WINDOW_SCALE: 0x01,
  SACK_PERM: 0x02,
  CLOSE_INIT: 0x04,
  BE_LIBERAL: 0x08,
  DATA_UNACKNOWLEDGED: 0x10,
  MAXACK_SET: 0x20,
  CHALLENGE_ACK: 0x40,
  SIMULTANEOUS_OPEN: 0x80,
} as const;

/** enum sctp_conntrack (linux/netfilter/nf_conntrack_sctp.h), names as conntrack(8) prints them. */
export const SCTP_STATE_NAMES = [
  'NONE',
  'CLOSED',
  'COOKIE_WAIT',
  'COOKIE_ECHOED',
  'ESTABLISHED',
  'SHUTDOWN_SENT',
  'SHUTDOWN_RECD',
  'SHUTDOWN_ACK_SENT',
  'HEARTBEAT_SENT',
  'HEARTBEAT_ACKED',
] as const;

/** enum ct_dccp_states (linux/netfilter/nf_conntrack_dccp.h). */
export const DCCP_STATE_NAMES = [
  'NONE',
  'REQUEST',
  'RESPOND',
  'PARTOPEN',
  'OPEN',
  'CLOSEREQ',
  'CLOSING',
  'TIMEWAIT',
  'IGNORE',
  'INVALID',
] as const;

/** enum ct_dccp_roles. */
export const CT_DCCP_ROLE = { CLIENT: 0, SERVER: 1 } as const;

/** Expectation flags (linux/netfilter/nf_conntrack_common.h NF_CT_EXPECT_*). */
export const NF_CT_EXPECT = { PERMANENT: 0x1, INACTIVE: 0x2, USERSPACE: 0x4 } as const;

/** enum ip_conntrack_dir. */
export const IP_CT_DIR = { ORIGINAL: 0, REPLY: 1 } as const;

/** Size of the kernel's connlabel bitmap (NF_CT_LABELS_MAX_SIZE = 128 bits). */
export const NF_CT_LABELS_MAX_SIZE = 16;
