// A single-node Ceph cluster for one test run (or one benchmark): one monitor, one OSD on the
// in-memory object store (memstore: no disk of its own) and one RADOS Gateway (RGW), the S3
// endpoint skep's blob backend talks to. Every path lives in one temporary folder, so the
// daemons never touch /etc/ceph or /var/lib/ceph; they fork into the background and are stopped
// by the PIDs they write there. Starts in about 15-25 s; no ceph-mgr (not needed for S3, and it
// triples the memory), so `ceph -s` would hang: only commands that answer without it are used.

import { randomBytes, randomUUID } from 'node:crypto';
import { accessSync, constants, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, isAlive, readPid, run, sleep, tail, waitForPort, type Daemon } from './process-util.js';

export interface CephEngine {
  /** The RGW's S3 endpoint, http://127.0.0.1:PORT. */
  endpoint: string;
  accessKeyId: string;
  secretAccessKey: string;
  daemons: Daemon[];
  stop(): Promise<void>;
}

const BINARIES = ['ceph-mon', 'ceph-osd', 'radosgw', 'ceph', 'ceph-authtool', 'monmaptool', 'radosgw-admin'];

export function missingCephBinaries(): string[] {
  const dirs = ['/usr/bin', '/usr/sbin', ...(process.env.PATH ?? '').split(':')];
  return BINARIES.filter((b) => !dirs.some((d) => d && existsExecutable(join(d, b))));
}

function existsExecutable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

export interface CephOptions {
  /** The memstore OSD's capacity, held in RAM as it fills (default 8 GiB). */
  memstoreBytes?: number;
}

export async function startCeph(opts: CephOptions = {}): Promise<CephEngine> {
  const missing = missingCephBinaries();
  if (missing.length > 0) {
    throw new Error(`Ceph is not installed (missing ${missing.join(', ')}; Debian packages ceph-mon, ceph-osd, radosgw, ceph-common)`);
  }
  const dir = mkdtempSync(join(tmpdir(), 'skep-ceph-'));
  for (const sub of ['run', 'log', 'mon', 'osd']) mkdirSync(join(dir, sub));
  const conf = join(dir, 'ceph.conf');
  const fsid = randomUUID();
  const monPort = await freePort();
  const rgwPort = await freePort();
  const daemons: Daemon[] = [];
  const cephArgs = (...args: string[]) => ['-c', conf, ...args];
  // Commands that talk to the monitor: bounded, since some wait forever for a missing manager.
  const ceph = (...args: string[]) => run('ceph', cephArgs('--connect-timeout', '20', ...args), { timeoutMs: 40_000 });

  writeFileSync(
    conf,
    `[global]
fsid = ${fsid}
mon initial members = a
mon host = v2:127.0.0.1:${monPort}
ms bind msgr1 = false
run dir = ${dir}/run
admin socket = ${dir}/run/$cluster-$name.asok
pid file = ${dir}/run/$name.pid
log file = ${dir}/log/$name.log
keyring = ${dir}/admin.keyring
mon data = ${dir}/mon/$cluster-$id
osd data = ${dir}/osd/$cluster-$id
# One OSD on one host: pools of one replica, placed on that host.
osd pool default size = 1
osd pool default min size = 1
mon allow pool size one = true
mon warn on pool no redundancy = false
osd crush chooseleaf type = 0
osd pool default pg num = 8
osd pool default pgp num = 8
osd pool default pg autoscale mode = off
mon max pg per osd = 1000
osd objectstore = memstore
memstore device bytes = ${opts.memstoreBytes ?? 8 * 1024 ** 3}
debug ms = 0/0
debug rgw = 0/0

[osd]
keyring = $osd_data/keyring

[client.rgw.gw]
keyring = ${dir}/rgw.keyring
rgw frontends = beast endpoint=127.0.0.1:${rgwPort}
# Deleted objects are reclaimed after this many seconds (default 2 h): the OSD holds them in RAM.
rgw gc obj min wait = 20
rgw gc processor period = 20
rgw gc processor max time = 20
rgw enable usage log = false
`,
  );
  const stopAll = async () => {
    // Gateway first, then the OSD, then the monitor, each by the PID it wrote.
    for (const name of ['client.rgw.gw', 'osd.0', 'mon.a']) {
      const pid = readPid(join(dir, 'run', `${name}.pid`));
      if (pid !== null && isAlive(pid)) process.kill(pid, 'SIGTERM');
    }
    const deadline = Date.now() + 10_000;
    for (const name of ['client.rgw.gw', 'osd.0', 'mon.a']) {
      const pid = readPid(join(dir, 'run', `${name}.pid`));
      while (pid !== null && isAlive(pid) && Date.now() < deadline) await sleep(100);
      if (pid !== null && isAlive(pid)) process.kill(pid, 'SIGKILL');
    }
    rmSync(dir, { recursive: true, force: true });
  };
  const daemon = async (name: string, logName: string): Promise<Daemon> => {
    const pidFile = join(dir, 'run', `${name}.pid`);
    for (let i = 0; i < 100; i++) {
      const pid = readPid(pidFile);
      if (pid !== null) {
        const d = { name: `ceph ${name}`, pid, logFile: join(dir, 'log', `${logName}.log`) };
        daemons.push(d);
        return d;
      }
      await sleep(100);
    }
    throw new Error(`${name} wrote no PID file; log:\n${tail(join(dir, 'log', `${logName}.log`))}`);
  };

  try {
    // Monitor: keyrings for mon. and client.admin, a monmap with one monitor, mkfs, start.
    const monKeyring = join(dir, 'mon.keyring');
    const adminKeyring = join(dir, 'admin.keyring');
    await run('ceph-authtool', ['--create-keyring', monKeyring, '--gen-key', '-n', 'mon.', '--cap', 'mon', 'allow *']);
    await run('ceph-authtool', [
      '--create-keyring', adminKeyring, '--gen-key', '-n', 'client.admin',
      '--cap', 'mon', 'allow *', '--cap', 'osd', 'allow *', '--cap', 'mgr', 'allow *', '--cap', 'mds', 'allow *',
    ]);
    await run('ceph-authtool', [monKeyring, '--import-keyring', adminKeyring]);
    const monmap = join(dir, 'monmap');
    await run('monmaptool', ['--create', '--addv', 'a', `[v2:127.0.0.1:${monPort}]`, '--fsid', fsid, monmap]);
    await run('ceph-mon', cephArgs('--mkfs', '-i', 'a', '--monmap', monmap, '--keyring', monKeyring));
    await run('ceph-mon', cephArgs('-i', 'a'));
    const mon = await daemon('mon.a', 'mon.a');

    // OSD: registered with the monitor, its own key, mkfs on memstore, start, wait until up and in.
    const osdUuid = randomUUID();
    const osdId = (await ceph('osd', 'new', osdUuid)).stdout.trim();
    const osdData = join(dir, 'osd', `ceph-${osdId}`);
    mkdirSync(osdData);
    await run('ceph-authtool', ['--create-keyring', join(osdData, 'keyring'), '--gen-key', '-n', `osd.${osdId}`]);
    await ceph('auth', 'add', `osd.${osdId}`, 'osd', 'allow *', 'mon', 'allow profile osd', '-i', join(osdData, 'keyring'));
    await run('ceph-osd', cephArgs('-i', osdId, '--mkfs', '--osd-uuid', osdUuid));
    await run('ceph-osd', cephArgs('-i', osdId));
    const osd = await daemon(`osd.${osdId}`, `osd.${osdId}`);
    for (let i = 0; ; i++) {
      const stat = await ceph('osd', 'stat').then((r) => r.stdout, () => '');
      if (/1 up[^,]*, 1 in/.test(stat)) break;
      if (!isAlive(osd.pid) || !isAlive(mon.pid)) throw new Error(`the OSD did not come up:\n${tail(osd.logFile)}`);
      if (i > 300) throw new Error(`the OSD is not up and in after 60 s: ${stat}`);
      await sleep(200);
    }

    // Gateway: its key, start, wait for its port (it creates its pools on first start).
    await ceph('auth', 'get-or-create', 'client.rgw.gw', 'mon', 'allow rw', 'osd', 'allow rwx', '-o', join(dir, 'rgw.keyring'));
    await run('radosgw', cephArgs('-n', 'client.rgw.gw'));
    const rgw = await daemon('client.rgw.gw', 'client.rgw.gw');
    await waitForPort(rgwPort, 120_000, () => isAlive(rgw.pid), 'radosgw');

    const accessKeyId = 'SKEPTEST' + randomBytes(6).toString('hex').toUpperCase();
    const secretAccessKey = randomBytes(24).toString('base64url');
    await run('radosgw-admin', cephArgs('user', 'create', '--uid=skep', '--display-name=skep', `--access-key=${accessKeyId}`, `--secret=${secretAccessKey}`), {
      timeoutMs: 60_000,
    });
    return { endpoint: `http://127.0.0.1:${rgwPort}`, accessKeyId, secretAccessKey, daemons, stop: stopAll };
  } catch (err) {
    const logs = daemons.map((d) => `--- ${d.name}:\n${tail(d.logFile, 1500)}`).join('\n');
    await stopAll();
    throw new Error(`${(err as Error).message}${logs ? `\n${logs}` : ''}`);
  }
}
