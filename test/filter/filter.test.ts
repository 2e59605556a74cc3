import t from 'tap';
import { ExpectationFilter } from '../../src/filter/exp-filter';
import { FlowFilter, type FlowFilterConfig, replySource } from '../../src/filter/flow-filter';
import { AF_INET, parseAddr, parseCidr } from '../../src/flow/address';
import { IPPROTO, invertTuple, makeTuple } from '../../src/flow/flow';
import { ftpExp, tcpFlow, udpFlow } from '../sync/fixtures/flows';

const A = (s: string) => parseAddr(s);

t.test('flow filter table (spec §6)', async (t) => {
  const dnat = udpFlow('10.1.1.1', '203.0.113.5', {
    reply: makeTuple({ family: AF_INET, src: A('192.168.7.7'), dst: A('10.1.1.1'), proto: IPPROTO.UDP, sport: 53, dport: 5000 }),
  });
  const rows: [string, FlowFilterConfig, Parameters<FlowFilter['verdict']>[0], string][] = [
    ['no config passes', {}, udpFlow('1.1.1.1', '2.2.2.2'), 'pass'],
    ['protocol accept hit', { protocol: { mode: 'accept', protos: [6] } }, tcpFlow(1), 'pass'],
    ['protocol accept miss', { protocol: { mode: 'accept', protos: [6] } }, udpFlow('1.1.1.1', '2.2.2.2'), 'protocol'],
    ['protocol ignore hit', { protocol: { mode: 'ignore', protos: [17] } }, udpFlow('1.1.1.1', '2.2.2.2'), 'protocol'],
    ['protocol ignore miss', { protocol: { mode: 'ignore', protos: [17] } }, tcpFlow(1), 'pass'],
    ['address ignore on orig src (network)', { address: { mode: 'ignore', cidrs: [parseCidr('10.99.0.0/24')] } }, udpFlow('10.99.0.1', '10.99.0.2'), 'address'],
    ['address ignore: no reply tuple → orig dst is the reply source', { address: { mode: 'ignore', cidrs: [parseCidr('2.2.2.2')] } }, udpFlow('1.1.1.1', '2.2.2.2'), 'address'],
    ['address ignore on reply src after DNAT', { address: { mode: 'ignore', cidrs: [parseCidr('192.168.7.7')] } }, dnat, 'address'],
    ['address ignore: DNAT-ed orig dst is not tested', { address: { mode: 'ignore', cidrs: [parseCidr('203.0.113.5')] } }, dnat, 'pass'],
    ['address accept miss', { address: { mode: 'accept', cidrs: [parseCidr('172.16.0.0/12')] } }, udpFlow('1.1.1.1', '2.2.2.2'), 'address'],
    ['address accept hit (exact)', { address: { mode: 'accept', cidrs: [parseCidr('1.1.1.1')] } }, udpFlow('1.1.1.1', '2.2.2.2'), 'pass'],
    ['address: other family passes accept? no: no match', { address: { mode: 'accept', cidrs: [parseCidr('::1')] } }, udpFlow('1.1.1.1', '2.2.2.2'), 'address'],
    ['state accept hit', { state: { mode: 'accept', states: [3] } }, tcpFlow(1), 'pass'],
    ['state accept miss', { state: { mode: 'accept', states: [1, 2] } }, tcpFlow(1), 'state'],
    ['state ignore hit', { state: { mode: 'ignore', states: [3] } }, tcpFlow(1), 'state'],
    ['state: non-TCP passes', { state: { mode: 'accept', states: [1] } }, udpFlow('1.1.1.1', '2.2.2.2'), 'pass'],
    ['state: TCP without state passes', { state: { mode: 'accept', states: [1] } }, tcpFlow(1, { tcp: undefined }), 'pass'],
    [
      'all sets must pass (AND)',
      { protocol: { mode: 'accept', protos: [6] }, state: { mode: 'ignore', states: [3] } },
      tcpFlow(1),
      'state',
    ],
  ];
  for (const [name, cfg, flow, want] of rows) t.equal(new FlowFilter(cfg).verdict(flow), want, name);
});

t.test('automatic ignore of the sync link addresses, and counters', async (t) => {
  const f = new FlowFilter({}, [parseCidr('10.99.0.1'), parseCidr('10.99.0.2')]);
  t.equal(f.test(udpFlow('10.99.0.1', '10.99.0.2')), false);
  t.equal(f.test(udpFlow('10.99.0.9', '10.99.0.2')), false, 'reply source (= orig dst) is ours');
  t.equal(f.test(udpFlow('10.1.0.1', '10.2.0.2')), true);
  t.equal(f.stats.selfAddress, 2);
  t.equal(f.stats.passed, 1);
});

t.test('replySource', async (t) => {
  const f = udpFlow('1.1.1.1', '2.2.2.2');
  t.equal(replySource(f), A('2.2.2.2'));
  t.equal(replySource({ ...f, reply: invertTuple(f.orig) }), A('2.2.2.2'));
  t.equal(replySource({ ...f, nat: { dnatAddr: A('3.3.3.3') } }), A('3.3.3.3'));
});

t.test('expectation filter (spec §6)', async (t) => {
  const m = tcpFlow(1);
  const known = new Set(['ftp']);
  const masterKnown = () => known.has('ftp');
  const rows: [string, boolean | string[], string | undefined, string][] = [
    ['all', true, 'ftp', 'pass'],
    ['off', false, 'ftp', 'disabled'],
    ['prefix match, case-insensitive', ['SIP'], 'sip-5060', 'pass'],
    ['prefix miss', ['ftp'], 'sip-5060', 'helper'],
    ['no helper with a list', ['ftp'], undefined, 'helper'],
    ['no helper, all', true, undefined, 'pass'],
  ];
  for (const [name, cfg, helper, want] of rows) {
    const e = ftpExp(m, 'x');
    e.helper = helper;
    t.equal(new ExpectationFilter(cfg, masterKnown).verdict(e), want, name);
  }
  known.clear();
  const ef = new ExpectationFilter(true, masterKnown);
  t.equal(ef.test(ftpExp(m)), false, 'master not in the internal cache');
  t.equal(ef.stats.noMaster, 1);
});
