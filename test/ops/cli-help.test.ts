/**
 * Issue 7 §5: every subcommand answers --help (exit 0, usage on stdout), and every command and
 * flag that docs/operations.md and README.md show exists: commands are taken from `ctsyncd …`
 * code spans and code-block lines; each subcommand word must be one that answers --help, each
 * flag and each lower-case keyword after it must appear in that subcommand's help (the main
 * usage for conntrackd's flags); `--flags` mentioned in prose must appear in some help text.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import t from 'tap';
import { ROOT } from '../helpers/sync-lab';
import { ctsyncd } from './fixtures/ops';

const SUBS = ['kernel', 'wire', 'config', 'status', 'stats', 'cache', 'promote', 'demote'];
const DOCS = [path.join(ROOT, 'docs', 'operations.md'), path.join(ROOT, 'README.md')];

/** `ctsyncd …` commands in code spans and code blocks, comments stripped, one per command. */
export function docCommands(md: string): string[] {
  const raw: string[] = [];
  for (const m of md.matchAll(/`(ctsyncd [^`]*)`/g)) raw.push(m[1]!);
  let fenced = false;
  for (const line of md.split('\n')) {
    if (/^\s*```/.test(line)) fenced = !fenced;
    const code = fenced || /^ {4,}\S/.test(line);
    if (code && /^\s*ctsyncd /.test(line)) raw.push(line.trim());
  }
  const out: string[] = [];
  for (const r of raw) {
    const noComment = r.replace(/\s#.*$/, '');
    // several commands on one line ("ctsyncd status …   ctsyncd stats …"), and "promote | demote"
    for (const part of noComment.split(/(?=\bctsyncd )/)) {
      const p = part.trim();
      if (!p.startsWith('ctsyncd ')) continue;
      const alt = /^ctsyncd (\w+) \| (\w+)$/.exec(p);
      if (alt && SUBS.includes(alt[1]!) && SUBS.includes(alt[2]!)) out.push(`ctsyncd ${alt[1]}`, `ctsyncd ${alt[2]}`);
      else out.push(p);
    }
  }
  return [...new Set(out)];
}

const helpCache = new Map<string, string>();
function helpOf(sub: string | undefined): string {
  const key = sub ?? '';
  if (!helpCache.has(key)) helpCache.set(key, ctsyncd(sub ? [sub, '--help'] : ['--help']).stdout);
  return helpCache.get(key)!;
}

t.test('ctsyncd --help and every subcommand --help', async (t) => {
  const main = ctsyncd(['--help']);
  t.equal(main.code, 0, 'ctsyncd --help exits 0');
  t.match(main.stdout, /ctsyncd -C FILE/, 'prints the usage');
  for (const sub of SUBS) t.match(main.stdout, new RegExp(`ctsyncd ${sub}\\b`), `the main usage lists ${sub}`);
  helpCache.set('', main.stdout);
  for (const sub of SUBS) {
    // -h goes through the same check in each module: once per module (kernel, wire, config, ops)
    for (const flag of ['kernel', 'wire', 'config', 'status'].includes(sub) ? ['--help', '-h'] : ['--help']) {
      const r = ctsyncd([sub, flag]);
      t.equal(r.code, 0, `ctsyncd ${sub} ${flag} exits 0 (${r.stderr.trim()})`);
      t.match(r.stdout, new RegExp(`ctsyncd ${sub}\\b`), `ctsyncd ${sub} ${flag} prints its usage on stdout`);
      t.equal(r.stderr, '', `ctsyncd ${sub} ${flag}: nothing on stderr`);
      if (flag === '--help') helpCache.set(sub, r.stdout);
    }
  }
  t.equal(ctsyncd(['wire', 'decode', '--help']).code, 0, 'ctsyncd wire decode --help exits 0');
  t.equal(ctsyncd(['config', 'convert', '--help']).code, 0, 'ctsyncd config convert --help exits 0');
  const bad = ctsyncd(['status', '--frobnicate']);
  t.equal(bad.code, 2, 'an unknown flag is a usage error (exit 2)');
  t.match(bad.stderr, /unknown argument '--frobnicate'/, 'and says which');
});

t.test('the commands and flags the docs show exist', async (t) => {
  const allHelp = [undefined, ...SUBS].map(helpOf).join('\n');
  let checked = 0;
  for (const file of DOCS) {
    const md = fs.readFileSync(file, 'utf8');
    const cmds = docCommands(md);
    t.ok(cmds.length >= 5, `${path.basename(file)}: ${cmds.length} commands found`);
    for (const cmd of cmds) {
      const toks = cmd.split(/\s+/).slice(1);
      const first = toks[0] ?? '';
      const sub = /^[a-z]/.test(first) ? first : undefined;
      if (sub) t.ok(SUBS.includes(sub), `${path.basename(file)}: "${cmd}": '${sub}' is a subcommand`);
      if (sub && !SUBS.includes(sub)) continue;
      const help = helpOf(sub);
      t.ok(help.length > 0, `"${cmd}": ctsyncd ${sub ?? ''} --help prints usage`);
      for (const tok of toks.slice(sub ? 1 : 0)) {
        const bare = tok.replace(/^\[|\]$/g, '');
        if (/^--?[a-zA-Z][\w-]*$/.test(bare)) {
          t.ok(new RegExp(`(^|[\\s\\[|])${bare}\\b`).test(help), `"${cmd}": ${bare} is in the ${sub ?? 'main'} usage`);
          checked++;
        } else if (/^[a-z]+(\|[a-z]+)*$/.test(bare)) {
          for (const w of bare.split('|')) {
            t.ok(new RegExp(`\\b${w}\\b`).test(help), `"${cmd}": '${w}' is in the ${sub ?? 'main'} usage`);
            checked++;
          }
        }
      }
    }
    // --flags mentioned in prose (e.g. promote's `--hold-ms`)
    for (const m of md.matchAll(/`(--[a-z][\w-]*)[^`]*`/g)) {
      t.ok(allHelp.includes(m[1]!), `${path.basename(file)}: prose flag ${m[1]} appears in a help text`);
      checked++;
    }
  }
  t.ok(checked >= 20, `${checked} words and flags checked`);
});
