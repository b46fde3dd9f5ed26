"""redisutil: a traced redis-server for the real-redis tests (stdlib only).

    r = redisutil.Redis(t)             # skips the test without redis
    srv, port, d = r.start()           # under the shim, answers PING
    ...                                # r.bench / r.cli against port, env r.env
    log = r.stop(srv, port)            # SHUTDOWN NOSAVE; srv.returncode set
    traces = t.traces_in(d, "redis.")

The readiness probe is one `redis-cli ping`: the server sees exactly one PING
(probes made before the port listened were refused and sent nothing), and
stop() sends one "shutdown nosave" that gets no reply.
"""
import os
import shutil
import signal
import socket
import subprocess
import time

import pstest

pstest.HELPER_FILES.add(os.path.basename(__file__))


def free_port():
    """A port free on 127.0.0.1 right now.  redis cannot bind port 0 and
    tell us: take a free one and hand it over.  Another process may grab it
    in between; start() retries."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Redis:
    """redis-server, redis-benchmark and redis-cli (the test skips when one
    is missing); env: the untraced environment for the clients."""

    def __init__(self, t):
        self.t = t
        self.server = shutil.which("redis-server")
        self.bench = shutil.which("redis-benchmark")
        self.cli = shutil.which("redis-cli")
        if not (self.server and self.bench and self.cli):
            t.skip("redis-server, redis-benchmark or redis-cli not installed")
        self.env = t.base_env()

    def ping(self, port):
        try:
            p = subprocess.run([self.cli, "-h", "127.0.0.1", "-p", str(port), "ping"],
                               capture_output=True, timeout=5, env=self.env)
        except subprocess.TimeoutExpired:
            return False
        return p.returncode == 0 and p.stdout.strip() == b"PONG"

    def start(self, template="redis.%p"):
        """redis-server under the shim on a free port, its traces named
        TEMPLATE in a fresh temp dir (also its --dir and cwd): (proc, port,
        dir).  Stops the test when it does not start."""
        t = self.t
        log = b""
        for attempt in range(5):
            port = free_port()
            d = t.tempdir()   # fresh per attempt: a failed attempt leaves a trace too
            srv = subprocess.Popen([self.server, "--port", str(port), "--bind", "127.0.0.1",
                                    "--save", "", "--appendonly", "no", "--daemonize", "no",
                                    "--dir", d],
                                   cwd=d, env=t.traced_env(d, template=template),
                                   stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
            deadline = time.time() + 15
            while time.time() < deadline and srv.poll() is None:
                if self.ping(port):
                    return srv, port, d
                time.sleep(0.1)
            if srv.poll() is None:   # alive but not answering: give up
                log = self.stop(srv, port)
                t.fatal("redis-server did not answer PING on 127.0.0.1:%d within 15 s (log %r)"
                        % (port, log[-400:]))
            log = srv.communicate()[0]
            if b"in use" not in log:   # a failure other than the port race
                break
        t.fatal("redis-server could not start (log %r)" % log[-400:])

    def stop(self, srv, port):
        """SHUTDOWN NOSAVE (the process exits normally: the trace gets its
        end record); SIGTERM, then SIGKILL, if it does not go.  Returns its
        log (stdout and stderr)."""
        try:
            subprocess.run([self.cli, "-h", "127.0.0.1", "-p", str(port), "shutdown", "nosave"],
                           capture_output=True, timeout=10, env=self.env)
        except subprocess.TimeoutExpired:
            pass
        for sig in (None, signal.SIGTERM, signal.SIGKILL):
            if sig is not None and srv.poll() is None:
                srv.send_signal(sig)
            try:
                return srv.communicate(timeout=15)[0]
            except subprocess.TimeoutExpired:
                continue
        return b""
