/**
 * A real FTP control connection for expectation tests: a one-line server on peer:21 and a client
 * from addr that sends USER, then PORT, so the kernel's nf_conntrack_ftp helper creates an
 * expectation for the data connection (addr port 51210). Used by the daemon and interop
 * injectors, which run inside a namespace.
 */
import * as net from 'node:net';

export interface FtpControl {
  localPort: number | undefined;
  close(): void;
}

export async function ftpControlWithPort(addr: string, peer: string, localPort?: number): Promise<FtpControl> {
  const srv = net.createServer((s) => s.on('data', () => s.write('200 ok\r\n')));
  await new Promise<void>((r) => srv.listen(21, peer, r));
  const cl = net.connect({ port: 21, host: peer, localAddress: addr, ...(localPort === undefined ? {} : { localPort }) });
  await new Promise((r) => cl.on('connect', r));
  // nf_conntrack_ftp parses only lines that follow a previous newline in the same direction
  cl.write('USER x\r\n');
  await new Promise((r) => cl.once('data', r));
  const [o1, o2, o3, o4] = addr.split('.');
  cl.write(`PORT ${o1},${o2},${o3},${o4},200,10\r\n`); // data connection to port 51210
  await new Promise((r) => cl.once('data', r));
  return {
    localPort: cl.localPort,
    close: () => {
      cl.destroy();
      srv.close();
    },
  };
}
