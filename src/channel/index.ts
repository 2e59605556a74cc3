export * from './types';
export { readInterfaceMtu, maxPayloadFor, UDP_HEADER_ALLOWANCE } from './common';
export { MulticastChannel, openMulticastChannel, interfaceIPv4, type MulticastOptions } from './multicast';
export { UdpChannel, openUdpChannel, type UdpOptions, type UdpPeer } from './udp';
export { MultiLinkChannel, MULTICHANNEL_MAX, type LinkSpec, type LinkStats, type MultiLinkOptions, type MultiLinkStats } from './multilink';
export { readLinkUp, type LinkStateReader } from './link-state';
