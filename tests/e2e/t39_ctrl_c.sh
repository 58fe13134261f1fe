#!/bin/bash
# SPDX-License-Identifier: MIT
# Ctrl-C in -- COMMAND mode (issue 9, item 14b): tun2socks runs in the foreground
# of a real terminal (a pty driven by python), its command counts the SIGINTs it
# gets, with their si_code. Each Ctrl-C (the terminal signals its foreground
# process group, tun2socks and the command alike) must reach the command exactly
# once, three times over; a SIGINT sent to tun2socks by another process is still
# passed on, once. Closing the terminal (SIGHUP to tun2socks, the session leader)
# ends the command, and tun2socks exits with its status (129) after its teardown.
. "$(dirname "$0")/lib.sh"

need_root
need_bin
topo_up
danted_start
PROXY=socks5://$SRV_IP4:$DANTE_PORT

# The command: SIGINT and SIGUSR2 taken with sigwaitinfo, one line each. SIGUSR2 is
# the test's marker: a pending SIGINT (lower number) is always taken before it.
cat >"$WORK/count.py" <<'EOS'
import os, signal, sys
work = sys.argv[1]
sigs = {signal.SIGINT, signal.SIGUSR2}
signal.pthread_sigmask(signal.SIG_BLOCK, sigs)
with open(os.path.join(work, "ready"), "w") as f:
    f.write("%d\n" % os.getpid())
n = 0
log = open(os.path.join(work, "count"), "a", buffering=1)
for _ in range(1200):  # at most 60 s
    if os.path.exists(os.path.join(work, "done")):
        break
    si = signal.sigtimedwait(sigs, 0.05)
    if si is None:
        continue
    if si.si_signo == signal.SIGINT:
        n += 1
        log.write("int code=%d pid=%d\n" % (si.si_code, si.si_pid))
    else:
        log.write("mark\n")
sys.exit(60 + n)
EOS

cat >"$WORK/drive.py" <<'EOS'
import os, pty, select, signal, sys, time
work, cmd = sys.argv[1], sys.argv[2:]
out = bytearray()
pid, fd = pty.fork()
if pid == 0:
    os.execvp(cmd[0], cmd)

def pump(t=0.05):
    r, _, _ = select.select([fd], [], [], t)
    if r:
        try:
            out.extend(os.read(fd, 65536))
        except OSError:
            pass

def until(what, cond, limit=15):
    end = time.monotonic() + limit
    while not cond():
        if time.monotonic() > end:
            sys.exit("timeout waiting for %s; output: %s" % (what, out.decode(errors="replace")[-2000:]))
        pump()

def lines(prefix):
    try:
        with open(os.path.join(work, "count")) as f:
            return [l for l in f.read().splitlines() if l.startswith(prefix)]
    except FileNotFoundError:
        return []

def settle():
    # tun2socks answers SIGUSR1 from its loop, after any signal it read before; then
    # a marker to the command is taken after any SIGINT pending there.
    n0 = out.count(b" stats: ")
    os.kill(pid, signal.SIGUSR1)
    until("a stats line", lambda: out.count(b" stats: ") > n0)
    m0 = len(lines("mark"))
    os.kill(cmd_pid, signal.SIGUSR2)
    until("the marker", lambda: len(lines("mark")) > m0)

until("the command", lambda: os.path.exists(os.path.join(work, "ready")) and
      open(os.path.join(work, "ready")).read().endswith("\n"))
cmd_pid = int(open(os.path.join(work, "ready")).read())
for k in range(1, 4):
    os.write(fd, b"\x03")
    until("Ctrl-C %d" % k, lambda: len(lines("int")) >= k)
    settle()
    got = lines("int")
    if len(got) != k:
        sys.exit("after %d Ctrl-C the command got %d SIGINTs: %s" % (k, len(got), got))
    print("ctrl-c %d: %s" % (k, got[-1]), flush=True)
os.kill(pid, signal.SIGINT)
until("the forwarded SIGINT", lambda: len(lines("int")) >= 4)
settle()
got = lines("int")
if len(got) != 4 or got[-1] != "int code=0 pid=%d" % pid:
    sys.exit("a SIGINT sent to tun2socks: the command got %s" % got[3:])
print("kill -INT: %s" % got[-1], flush=True)
for l in got[:3]:
    if not l.startswith("int code=128 "):
        sys.exit("a Ctrl-C did not come from the terminal: %s" % l)
os.close(fd)  # the terminal goes away
end = time.monotonic() + 15
while time.monotonic() < end:
    p, st = os.waitpid(pid, os.WNOHANG)
    if p == pid:
        break
    time.sleep(0.05)
else:
    sys.exit("tun2socks still runs after the terminal closed")
print("status %d" % os.waitstatus_to_exitcode(st), flush=True)
sys.stdout.write(out.decode(errors="replace"))
EOS

echo "=== $(date +%T.%3N) pty: tun2socks --proxy $PROXY -- python3 count.py" >>"$T2S_LOG"
res=$(timeout -k 5 90 "$PY" "$WORK/drive.py" "$WORK" ip netns exec "$CLI" "$T2S_BIN" --proxy "$PROXY" \
      --log-level info -- "$PY" "$WORK/count.py" "$WORK" 2>&1)
rc=$?
echo "$res" >>"$T2S_LOG"
[ "$rc" = 0 ] || fail "$(tail -2 <<<"$res" | tr "\n" " ")"
grep -q "^status 129\$" <<<"$res" || fail "after the terminal closed: $(grep '^status' <<<"$res"), expected 129"
[ -z "$(t2s_procs)" ] || fail "tun2socks left running"
info "Ctrl-C x3: one SIGINT each (from the terminal); kill -INT forwarded once; hangup: status 129"
