"""Pyro5 baseline for `labvisor-bench wire.echo`: an `echo` method on a Pyro5 daemon behind
a unix socket, called by proxies sequentially and from 8 threads. Prints one JSON object.

Usage: pyro5_echo.py SECONDS_PER_PHASE
"""
import json, os, resource, statistics, subprocess, sys, tempfile, threading, time

SERVER = r'''
import sys, Pyro5.api, Pyro5.server
@Pyro5.api.expose
class Echo:
    def echo(self, value):
        return value
daemon = Pyro5.server.Daemon(unixsocket=sys.argv[1])
daemon.register(Echo(), objectId="echo")
print("ready", flush=True)
daemon.requestLoop()
'''

def cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

def main():
    import Pyro5.api
    duration = float(sys.argv[1]) if len(sys.argv) > 1 else 2.0
    folder = tempfile.mkdtemp()
    path = os.path.join(folder, "pyro.sock")
    server = subprocess.Popen([sys.executable, "-c", SERVER, path], stdout=subprocess.PIPE, text=True)
    try:
        assert server.stdout.readline().strip() == "ready"
        uri = f"PYRO:echo@./u:{path}"
        proxy = Pyro5.api.Proxy(uri)
        proxy.echo(1)
        latencies = []
        cpu_before = cpu_seconds(server.pid)
        end = time.perf_counter() + duration
        while time.perf_counter() < end:
            start = time.perf_counter()
            proxy.echo(1)
            latencies.append(time.perf_counter() - start)
        cpu_used = cpu_seconds(server.pid) - cpu_before
        sequential = len(latencies) / duration
        latencies.sort()
        counts = [0] * 8
        def worker(index):
            own = Pyro5.api.Proxy(uri)
            own.echo(1)
            stop = time.perf_counter() + duration
            while time.perf_counter() < stop:
                own.echo(1)
                counts[index] += 1
        threads = [threading.Thread(target=worker, args=(i,)) for i in range(8)]
        for thread in threads: thread.start()
        for thread in threads: thread.join()
        print(json.dumps({
            "pyro5_sequential_per_s": round(sequential),
            "pyro5_p50_us": round(latencies[len(latencies) // 2] * 1e6, 1),
            "pyro5_p99_us": round(latencies[int(len(latencies) * 0.99)] * 1e6, 1),
            "pyro5_8_clients_per_s": round(sum(counts) / duration),
            "pyro5_server_cpu_us_per_call": round(cpu_used / len(latencies) * 1e6, 1),
        }))
    finally:
        server.kill()

if __name__ == "__main__":
    main()
