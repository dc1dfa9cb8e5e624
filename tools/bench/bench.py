#!/usr/bin/env python3
"""ledge benchmarks: every scenario in one run, beside a ceiling or peer
measured in the same run.

    make bench                      # everything
    tools/bench/bench.py B1 B3      # some scenarios (also B4,B8; B5c is
                                    # B5's `workflow start` row alone)
    tools/bench/bench.py --quick    # shorter loads (a smoke run)

Builds a release tree (build-bench), runs the scenarios, prints one table
(scenario, ledge, reference, ratio, target, met?) and writes it as
tools/bench/out/bench.csv, bench.md and a chart bench.png (gnuplot).

HTTP load is wrk; the other scenarios use the C drivers in tools/bench/,
except the domain rows (B4, B5c, B8), which start an orchestrator and
nodes as separate `ledge` processes on loopback TCP.
Peers come from ../shared/peers/run-peers.sh (workerd with a Durable
Object counter, functions-framework, the bare libevent server); a peer
that cannot start is reported and its rows say so.  Only ratios within one
run compare: the machine is shared and absolute numbers drift.
"""
import argparse
import csv
import os
import platform
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
OUT = os.path.join(ROOT, "tools", "bench", "out")
PEERS = os.environ.get("LEDGE_PEERS", os.path.join(os.path.dirname(ROOT), "shared", "peers"))
PEERS_CACHE = os.environ.get("PEERS_CACHE", os.path.expanduser("~/.cache/peers"))
ALL = ["B1", "B2", "B3", "B4", "B5", "B6", "B7", "B8", "B9", "B10"]
# How the nodes of the domain rows run; printed under the table.  Like the
# single-node rows (`ledge run` and the drivers' nodes), they fsync.
DOMAIN_NOTE = ("domain rows (B2 replicas, B4, B5c, B8): `ledge orchestrator` and `ledge node` processes on "
               "loopback TCP, nodes fsync their commits (no --no-sync), like the single-node rows")


def log(msg):
    print(f"bench: {msg}", file=sys.stderr, flush=True)


def run(cmd, **kw):
    return subprocess.run(cmd, check=True, text=True, capture_output=True, **kw).stdout


def ensure_tools():
    missing = [p for p, b in (("wrk", "wrk"), ("gnuplot-nox", "gnuplot")) if shutil.which(b) is None]
    if missing:
        if os.geteuid() == 0:
            log("installing " + " ".join(missing))
            subprocess.run(["apt-get", "install", "-y", "-qq"] + missing, check=False,
                           capture_output=True)
        else:
            log("missing: sudo apt-get install -y " + " ".join(missing))


def build(tree):
    if not os.path.exists(os.path.join(tree, "build.ninja")):
        log(f"configuring {tree} (release)")
        run(["meson", "setup", tree, "--buildtype=release", "-Dtests=false"], cwd=ROOT)
    log(f"building {tree}")
    run(["ninja", "-C", tree], cwd=ROOT)


# --------------------------------------------------------------------------
# HTTP load

def to_ms(v):
    if v.endswith("us"):
        return float(v[:-2]) / 1000
    if v.endswith("ms"):
        return float(v[:-2])
    if v.endswith("s"):
        return float(v[:-1]) * 1000
    return float(v)


def wrk(url, args, script=None, script_args=()):
    cmd = ["wrk"] + args.split() + ["--latency"]
    if script:
        cmd += ["-s", script]
    out = run(cmd + [url] + (["--"] + list(script_args) if script_args else []))
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    p50 = to_ms(re.search(r"\s50%\s+(\S+)", out).group(1))
    p99 = to_ms(re.search(r"\s99%\s+(\S+)", out).group(1))
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return {"rps": rps, "p50": p50, "p99": p99, "non2xx": int(errors.group(1)) if errors else 0}


def wait_http(url, tries=100):
    import urllib.request
    for _ in range(tries):
        try:
            urllib.request.urlopen(url, timeout=1).read()
            return True
        except Exception:
            time.sleep(0.1)
    return False


def start_ceiling(port):
    binary = os.path.join(PEERS_CACHE, "evhttp-ceiling")
    src = os.path.join(PEERS, "evhttp", "ceiling.c")
    if not os.path.exists(binary) and os.path.exists(src):
        os.makedirs(PEERS_CACHE, exist_ok=True)
        subprocess.run(["cc", "-O2", src, "-o", binary, "-levent"], check=False)
    if not os.path.exists(binary):
        return None
    p = subprocess.Popen([binary, str(port)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    if not wait_http(f"http://127.0.0.1:{port}/"):
        p.kill()
        return None
    return p


def start_ledge(tree, workflows, port, data, extra=()):
    cmd = [os.path.join(tree, "ledge"), "run", "-l", "warn", "-H", f"127.0.0.1:{port}",
           "-d", data] + list(extra) + workflows
    p = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    return p


def stop(p):
    if p and p.poll() is None:
        p.send_signal(signal.SIGINT)
        try:
            p.wait(15)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()


def peers_run(wrk_args):
    """run-peers.sh: name -> {rps, p50, p99}, or {} and a reason."""
    script = os.path.join(PEERS, "run-peers.sh")
    if not os.path.exists(script):
        return {}, f"no peers at {PEERS}"
    log("measuring peers (run-peers.sh)")
    env = dict(os.environ, WRK_ARGS=wrk_args, PEERS_CACHE=PEERS_CACHE)
    r = subprocess.run(["bash", script], text=True, capture_output=True, env=env)
    peers = {}
    for line in r.stdout.splitlines():
        f = line.split()
        if len(f) == 4 and f[0] != "name":
            try:
                peers[f[0]] = {"rps": float(f[1]), "p50": float(f[2]), "p99": float(f[3])}
            except ValueError:
                pass
    why = "" if peers else ("run-peers.sh failed: " + (r.stderr.strip().splitlines() or ["?"])[-1])
    return peers, why


# --------------------------------------------------------------------------
# results

ROWS = []


def row(sc, metric, value, unit, ref=None, ref_name="", target=None, note="", short=""):
    """target: (kind, number): ('ratio', x) = value/ref >= x, ('max', x) = value <= x,
    ('min', x) = value >= x, ('refratio', x) = ref/value >= x,
    ('ratiomax', x) = value/ref <= x, ('show', 0) = value/ref, no target."""
    ratio = met = None
    if value is not None and target:
        kind, x = target
        if kind == "ratio" and ref:
            ratio = value / ref
            met = ratio >= x
        elif kind == "refratio" and ref and value:
            ratio = ref / value
            met = ratio >= x
        elif kind == "show" and ref:
            ratio = value / ref
        elif kind == "ratiomax" and ref:
            ratio = value / ref
            met = ratio <= x
        elif kind == "max":
            ratio = value / x if x else None
            met = value <= x
        elif kind == "min":
            ratio = value / x
            met = value >= x
    ROWS.append({"scenario": sc, "metric": metric, "ledge": value, "unit": unit, "reference": ref,
                 "reference_name": ref_name, "ratio": ratio, "target": target, "met": met,
                 "note": note, "short": short})


def target_text(t):
    if not t:
        return ""
    kind, x = t
    if kind == "show":
        return "-"
    return {"ratio": f">= {x} x", "refratio": f"<= 1/{x:g} of it", "max": f"<= {x:g}",
            "min": f">= {x:g}", "ratiomax": f"<= {x:g} x"}[kind]


def fmt(v):
    if v is None:
        return "-"
    if abs(v) >= 1000:
        return f"{v:,.0f}"
    if abs(v) >= 10:
        return f"{v:.1f}"
    return f"{v:.3g}"


# --------------------------------------------------------------------------
# scenarios

def b1_b2(tree, args, peers, peers_why, which):
    tmp = tempfile.mkdtemp(prefix="ledge-bench-")
    script = os.path.join(tmp, "post.lua")
    with open(script, "w") as f:
        f.write('wrk.method = "POST"\n')
    port_c, port_l = 8790, 8793
    wfs = [os.path.join(tree, "functions", "hello", "workflow.yaml"),
           os.path.join(tree, "functions", "counter", "workflow.yaml")]
    ledge = start_ledge(tree, wfs, port_l, os.path.join(tmp, "data"))
    if not wait_http(f"http://127.0.0.1:{port_l}/hello"):
        log("ledge did not start: " + (ledge.stderr.read() if ledge.poll() is not None else ""))
        stop(ledge)
        return
    ceiling = start_ceiling(port_c)
    res = {"ceil": [], "hello": [], "counter": []}
    rounds = 1 if args.quick else 3
    for _ in range(rounds):
        if ceiling:
            res["ceil"].append(wrk(f"http://127.0.0.1:{port_c}/", args.wrk))
        if "B1" in which:
            res["hello"].append(wrk(f"http://127.0.0.1:{port_l}/hello", args.wrk))
        if "B2" in which:
            res["counter"].append(wrk(f"http://127.0.0.1:{port_l}/counter", args.wrk, script))
    stop(ceiling)
    stop(ledge)
    shutil.rmtree(tmp, ignore_errors=True)

    def med(k, f):
        return statistics.median(r[f] for r in res[k]) if res[k] else None

    ceil = med("ceil", "rps")
    cname = "bare libevent (same run)" if ceil else "bare libevent: did not start"
    wd = peers.get("workerd-hello")
    do = peers.get("workerd-durable-counter")
    if "B1" in which:
        h = med("hello", "rps")
        row("B1", "HTTP hello, req/s", h, "req/s", ceil, cname, ("ratio", 0.8),
            short="hello vs bare libevent")
        row("B1", "HTTP hello vs workerd, req/s", h, "req/s", wd and wd["rps"],
            "workerd hello" if wd else f"workerd: {peers_why or 'no result'}", ("ratio", 3),
            short="hello vs workerd")
        if peers.get("functions-framework-hello"):
            ff = peers["functions-framework-hello"]
            row("B1", "HTTP hello vs functions-framework, req/s", h, "req/s", ff["rps"],
                "functions-framework hello", None)
    if "B2" in which:
        c = med("counter", "rps")
        p99 = med("counter", "p99")
        row("B2", "durable counter, req/s", c, "req/s", ceil, cname, ("ratio", 0.5),
            short="counter vs bare libevent")
        row("B2", "durable counter vs workerd DO, req/s", c, "req/s", do and do["rps"],
            "workerd Durable Object" if do else f"workerd: {peers_why or 'no result'}",
            ("ratio", 10), short="counter vs workerd DO")
        row("B2", "durable counter p99, ms", p99, "ms", do and do["p99"],
            "workerd Durable Object p99" if do else "workerd: no result", ("refratio", 10),
            short="counter p99 vs workerd DO")


def driver(tree, name, *args):
    out = run([os.path.join(tree, "tools", "bench", "bench_" + name)] + list(args))
    line = [l for l in out.splitlines() if re.match(r"B\d ", l)][-1]
    return {k: float(v) for k, v in re.findall(r"(\w+)=([\d.]+)", line)}


def b3(tree, args):
    fdir = os.path.join(tree, "tools", "bench")
    n = "50000" if args.quick else "300000"
    s = driver(tree, "chain", "--events", n, "--samples", "3000", fdir)
    f = driver(tree, "chain", "--stateful", "--events", n, "--samples", "3000", fdir)
    note = "EDGELESS publishes ~15 ms mean for a 5-stage chain"
    row("B3", "5-function cast chain, p50 end to end, us", s["p50_us"], "us", 15000.0,
        "EDGELESS (published)", ("max", 50), note=note, short="chain p50 latency")
    row("B3", "chain p99, us", s["p99_us"], "us", None, "", None)
    row("B3", "chain, events/s (handler runs), stateless", s["events_per_s"], "events/s",
        None, "", ("min", 500000), note=f"{s['chains_per_s']:,.0f} chains/s",
        short="chain events/s, stateless")
    row("B3", "chain, events/s, one state write per hop", f["events_per_s"], "events/s",
        None, "", ("min", 200000), note=f"{f['chains_per_s']:,.0f} chains/s",
        short="chain events/s, stateful")


def b5(tree, args):
    r = driver(tree, "cold", os.path.join(tree, "tools", "bench"), "20" if args.quick else "100")
    row("B5", "first instance of a new .so (load + init), p50, us", r["first_p50_us"], "us",
        None, "", ("max", 1000), note=f"p99 {r['first_p99_us']:.0f} us on the node's loop; "
        f"{r['first_e2e_p50_us']:.0f} us p50 from another thread", short="cold start, new .so")
    row("B5", "another instance of a loaded function, p50, us", r["another_p50_us"], "us",
        None, "", ("max", 50), note=f"p99 {r['another_p99_us']:.0f} us on the node's loop; "
        f"{r['another_e2e_p50_us']:.0f} us p50 from another thread",
        short="cold start, loaded code")


def b9(tree, args):
    """The cost of `isolation: process`: the same functions in the node's
    own process and in host processes, in one `ledge run`, loaded in turn."""
    tmp = tempfile.mkdtemp(prefix="ledge-bench-iso-")
    script = os.path.join(tmp, "post.lua")
    with open(script, "w") as f:
        f.write('wrk.method = "POST"\n')
    hello = os.path.join(tree, "functions", "hello", "hello.so")
    counter = os.path.join(tree, "functions", "counter", "counter.so")
    wfs = []
    # "open": a host process without its sandbox (`sandbox: off`), to
    # show what the seccomp filter costs.
    for iso in ("node", "process", "open"):
        for name, code, methods in (("hello", hello, "[GET]"), ("counter", counter, "[GET, POST]")):
            if iso == "open" and name != "hello":
                continue
            wf = os.path.join(tmp, f"{name}-{iso}.yaml")
            extra = "    sandbox: off\n" if iso == "open" else ""
            with open(wf, "w") as f:
                f.write(f"workflow: {name}-{iso}\nfunctions:\n  f:\n    code: {code}\n"
                        f"    isolation: {'node' if iso == 'node' else 'process'}\n{extra}"
                        f"resources:\n  http:\n    type: http-ingress\n"
                        f"    config: {{ path: /{name}-{iso}, methods: {methods} }}\n"
                        f"    outputs: {{ request: f }}\n")
            wfs.append(wf)
    port = 8797
    p = start_ledge(tree, wfs, port, os.path.join(tmp, "data"), ["--no-watch", "-L", "none"])
    url = f"http://127.0.0.1:{port}"
    if not wait_http(f"{url}/hello-process"):
        log("B9: ledge did not start: " + (p.stderr.read() if p.poll() is not None else ""))
        stop(p)
        shutil.rmtree(tmp, ignore_errors=True)
        return
    res = {k: [] for k in ("hello-node", "hello-process", "hello-open", "counter-node",
                           "counter-process")}
    lat = {"node": [], "process": [], "nng": []}
    one = "-t1 -c1 -d2s" if args.quick else "-t1 -c1 -d3s"
    for _ in range(1 if args.quick else 3):
        for k in res:
            res[k].append(wrk(f"{url}/{k}", args.wrk, script if k.startswith("counter") else None))
        # One request at a time: the latency a host process adds, beside
        # a raw nng round trip over ipc:// (what each callback costs at
        # least: the run message out, `done` back).
        for iso in ("node", "process"):
            lat[iso].append(wrk(f"{url}/hello-{iso}", one)["p50"] * 1000)
        lat["nng"].append(driver(tree, "nng_rtt", f"ipc://{tmp}/rtt", "2000")["p50_us"])
    hosts = subprocess.run(["pgrep", "-P", str(p.pid)], capture_output=True, text=True).stdout.split()
    host_rss = [rss_kib(int(h)) for h in hosts]
    node_rss = rss_kib(p.pid)
    stop(p)
    shutil.rmtree(tmp, ignore_errors=True)

    def med(k, f):
        return statistics.median(r[f] for r in res[k]) if res[k] else None

    for name, what in (("hello", "HTTP hello"), ("counter", "durable counter (POST)")):
        row("B9", f"{what}, isolation: process, req/s", med(f"{name}-process", "rps"), "req/s",
            med(f"{name}-node", "rps"), "the same in the node's process (same run)", ("show", 0),
            note=f"p50 {med(name + '-process', 'p50'):.3f} ms vs {med(name + '-node', 'p50'):.3f} ms",
            short=f"{name}, process isolation")
    row("B9", "HTTP hello, isolation: process with its sandbox, req/s", med("hello-process", "rps"),
        "req/s", med("hello-open", "rps"), "the same host without it, sandbox: off (same run)",
        ("show", 0), note=f"p50 {med('hello-process', 'p50'):.3f} ms vs "
        f"{med('hello-open', 'p50'):.3f} ms" if res["hello-open"] else "",
        short="hello, sandbox on vs off")
    added = (statistics.median(lat["process"]) - statistics.median(lat["node"])
             if lat["process"] else None)
    row("B9", "HTTP hello, latency a host process adds (one client), p50, us", added, "us",
        lat["nng"] and statistics.median(lat["nng"]), "raw nng req/rep round trip over ipc:// "
        "(same run)", ("show", 0),
        note=f"{statistics.median(lat['process']):.0f} us vs {statistics.median(lat['node']):.0f} us",
        short="latency a host adds")
    rss = [r for r in host_rss if r]
    row("B9", "RSS of one host process, MB", rss and statistics.median(rss) / 1024, "MB",
        node_rss and node_rss / 1024, "the node with 4 workflows" if node_rss else "", ("show", 0),
        note=f"{len(rss)} hosts", short="host process RSS")


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return None


def b6(tree, args):
    tmp = tempfile.mkdtemp(prefix="ledge-bench-mem-")
    counter = os.path.join(tree, "functions", "counter", "counter.so")
    n = 1000 if args.quick else 10000

    def measure(yaml_text, port):
        wf = os.path.join(tmp, f"wf{port}.yaml")
        with open(wf, "w") as f:
            f.write(yaml_text)
        p = start_ledge(tree, [wf], port, os.path.join(tmp, f"data{port}"), ["--no-watch"])
        ok = wait_http(f"http://127.0.0.1:{port}/c", 300)
        time.sleep(1.0)
        rss = rss_kib(p.pid) if ok else None
        stop(p)
        return rss

    route = ("resources:\n  http:\n    type: http-ingress\n"
             "    config: { path: /c }\n    outputs: { request: c0 }\n")
    base = measure(f"workflow: one\nfunctions:\n  c0: {{ code: {counter} }}\n" + route, 8795)
    many = "".join(f"  c{i}: {{ code: {counter} }}\n" for i in range(n))
    big = measure(f"workflow: many\nfunctions:\n{many}" + route, 8796)
    shutil.rmtree(tmp, ignore_errors=True)
    per = (big - base) * 1024 / (n - 1) if base and big else None
    row("B6", f"RSS per idle counter instance ({n:,} instances), bytes", per, "B", None, "",
        ("max", 8192), short="RSS per idle instance")
    wd = workerd_rss()
    row("B6", "node baseline RSS (one counter), MB", base and base / 1024, "MB", wd and wd / 1024,
        "workerd idle RSS" if wd else "workerd: not started", ("max", 10),
        short="node baseline RSS")


def start_workerd():
    """workerd with its Durable Object counters on port 8788: (process, folder), or None."""
    binary = os.path.join(PEERS_CACHE, "node_modules", "@cloudflare", "workerd-linux-64", "bin",
                          "workerd")
    cfg = os.path.join(PEERS, "workerd")
    if not os.path.exists(binary) or not os.path.isdir(cfg):
        return None
    tmp = tempfile.mkdtemp(prefix="ledge-bench-wd-")
    for f in ("config.capnp", "worker.js"):
        shutil.copy(os.path.join(cfg, f), tmp)
    os.makedirs(os.path.join(tmp, "do-data"), exist_ok=True)
    p = subprocess.Popen([binary, "serve", "config.capnp", "--experimental"], cwd=tmp,
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    if not wait_http("http://127.0.0.1:8788/"):
        p.kill()
        p.wait()
        shutil.rmtree(tmp, ignore_errors=True)
        return None
    return p, tmp


def stop_workerd(wd):
    p, tmp = wd
    p.kill()
    p.wait()
    shutil.rmtree(tmp, ignore_errors=True)


def workerd_rss():
    wd = start_workerd()
    if wd is None:
        return None
    time.sleep(1.0)
    rss = rss_kib(wd[0].pid)
    stop_workerd(wd)
    return rss


def b7(tree, args):
    r = driver(tree, "reload", os.path.join(tree, "tools", "bench"), "20000",
               "2" if args.quick else "4")
    row("B7", "hot reload at 20k events/s: longest wait around it, us", r["max_pause_us"], "us",
        r["baseline_max_latency_us"], "longest wait elsewhere in the run", ("max", 1000),
        short="hot reload pause")
    row("B7", "events lost / duplicated across the reload", r["lost"] + r["duplicated"], "",
        None, f"{int(r['sent']):,} sent, {int(r['handled']):,} handled, counter "
        f"{int(r['state']):,}", ("max", 0), short="reload: lost + duplicated = 0")


# --------------------------------------------------------------------------
# keyed functions (B10)

def rss_anon_kib(pid):
    """Anonymous resident memory (heap, stacks): not the store's file pages LMDB maps."""
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("RssAnon:"):
                return int(line.split()[1])
    return None


def metric_value(port, name, instance):
    import urllib.request
    try:
        text = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5).read().decode()
    except Exception:
        return None
    m = re.search(r"^" + re.escape(name) + r'\{node="[^"]*",instance="' + re.escape(instance) +
                  r'"\} (\d+)', text, re.M)
    return int(m.group(1)) if m else None


# Each request a key never used before: k<thread>-<n>.
FRESH_KEYS_LUA = """
local n, id = 0, 0
local threads = 0
function setup(thread) thread:set("id", threads); threads = threads + 1 end
function request()
  n = n + 1
  return wrk.format("POST", "/visits/t" .. id .. "-" .. n)
end
"""


def b10(tree, args):
    tmp = tempfile.mkdtemp(prefix="ledge-bench-keyed-")
    keys_lua = os.path.join(PEERS, "keys.lua")
    post = os.path.join(tmp, "post.lua")
    with open(post, "w") as f:
        f.write('wrk.method = "POST"\n')
    fresh = os.path.join(tmp, "fresh.lua")
    with open(fresh, "w") as f:
        f.write(FRESH_KEYS_LUA)
    visits = os.path.join(tree, "functions", "sessions", "visits.so")
    counter = os.path.join(tree, "functions", "counter", "workflow.yaml")
    route = ("resources:\n  counts:\n    type: http-ingress\n"
             "    config: { prefix: /visits/, key: path, methods: [GET, POST] }\n"
             "    outputs: { request: visits }\n")

    def keyed_wf(name, keyed):
        path = os.path.join(tmp, name + ".yaml")
        with open(path, "w") as f:
            f.write(f"workflow: sessions\nfunctions:\n  visits:\n    code: {visits}\n"
                    f"    keyed: {keyed}\n" + route)
        return path

    # B10a: the keyed durable counter over 10,000 keys against the unkeyed one, same process.
    port = 8797
    ledge = start_ledge(tree, [counter, keyed_wf("a", "true")], port, os.path.join(tmp, "a"))
    res = {"counter": [], "keyed": []}
    if wait_http(f"http://127.0.0.1:{port}/counter"):
        for _ in range(1 if args.quick else 3):
            res["counter"].append(wrk(f"http://127.0.0.1:{port}/counter", args.wrk, post))
            res["keyed"].append(wrk(f"http://127.0.0.1:{port}", args.wrk, keys_lua,
                                    ["/visits/", "10000", "POST"]))
    else:
        log("B10a: ledge did not start")
    stop(ledge)
    wd = start_workerd()
    wdo = None
    if wd:
        wdo = wrk("http://127.0.0.1:8788", args.wrk, keys_lua, ["/counter/", "10000"])
        stop_workerd(wd)

    def med(k, f):
        return statistics.median(r[f] for r in res[k]) if res[k] else None

    k = med("keyed", "rps")
    row("B10a", "HTTP keyed durable counter, 10,000 keys, req/s", k, "req/s", med("counter", "rps"),
        "the unkeyed durable counter (same run)", ("ratio", 0.9),
        note=f"p50 {fmt(med('keyed', 'p50'))} ms", short="keyed counter vs unkeyed")
    row("B10a", "HTTP keyed durable counter vs workerd, one DO per key, req/s", k, "req/s",
        wdo and wdo["rps"], "workerd, a Durable Object per key, 10,000 keys" if wdo
        else "workerd: not started", ("ratio", 20), short="keyed counter vs workerd DO per key")

    # B10b, B10d: the in-process driver.
    fdir = os.path.join(tree, "tools", "bench")
    n = "30000" if args.quick else "100000"
    one = keyed_driver(tree, "--workers", "1", "--work-us", "50", "--events", n, fdir)
    two = keyed_driver(tree, "--workers", "2", "--work-us", "50", "--events", n, fdir)
    row("B10b", "keyed events/s (1,000 keys, 50 us of work each), 2 workers", two["events_per_s"],
        "events/s", one["events_per_s"], "1 worker (same run)", ("ratio", 1.7),
        short="keyed: 2 workers vs 1")
    act = keyed_driver(tree, "--workers", "2", "--state", "--events", n, fdir)
    row("B10d", "activation of a passivated key with state + its event, p50, us",
        act["act_p50_us"], "us", None, "", ("max", 20),
        note=f"p99 {act['act_p99_us']:.1f} us, {int(act['passivated']):,} keys passivated first",
        short="key activation p50")

    # B10c: memory per key, active and passivated, and start time with many keys stored.
    dur = "5s" if args.quick else "45s"
    per = {}
    for phase, keyed in (("active", "{ idle_s: 86400, max_active: 10000000 }"),
                         ("passive", "{ idle_s: 1, max_active: 10000000 }")):
        port = 8798
        data = os.path.join(tmp, "c-" + phase)
        p = start_ledge(tree, [keyed_wf("c" + phase, keyed)], port, data, ["--no-watch"])
        if not wait_http(f"http://127.0.0.1:{port}/visits/warm", 300):
            log(f"B10c: ledge did not start ({phase})")
            stop(p)
            continue
        time.sleep(1.0)
        base = rss_anon_kib(p.pid)
        wrk(f"http://127.0.0.1:{port}", f"-t2 -c32 -d{dur}", fresh)
        keys = metric_value(port, "ledge_key_activations_total", "sessions/visits") or 0
        if phase == "passive":
            for _ in range(600):
                if metric_value(port, "ledge_keys_active", "sessions/visits") == 0:
                    break
                time.sleep(0.2)
        else:
            time.sleep(3.0)  # idle: caches emptied, the heap trimmed
        after = rss_anon_kib(p.pid)
        per[phase] = ((after - base) * 1024 / keys if keys else None, keys)
        stop(p)
        if phase == "passive":
            # Start again on the store with every key: does it look at them?
            t0 = time.monotonic()
            p = start_ledge(tree, [keyed_wf("c" + phase, keyed)], port, data, ["--no-watch"])
            ok = wait_http(f"http://127.0.0.1:{port}/visits/warm", 600)
            many = time.monotonic() - t0 if ok else None
            stop(p)
            p = start_ledge(tree, [keyed_wf("c" + phase, keyed)], port,
                            os.path.join(tmp, "c-ten"), ["--no-watch"])
            if wait_http(f"http://127.0.0.1:{port}/visits/warm", 600):
                import urllib.request
                for i in range(10):
                    urllib.request.urlopen(urllib.request.Request(
                        f"http://127.0.0.1:{port}/visits/k{i}", data=b"", method="POST"),
                        timeout=5).read()
            stop(p)
            t0 = time.monotonic()
            p = start_ledge(tree, [keyed_wf("c" + phase, keyed)], port,
                            os.path.join(tmp, "c-ten"), ["--no-watch"])
            ok = wait_http(f"http://127.0.0.1:{port}/visits/warm", 600)
            ten = time.monotonic() - t0 if ok else None
            stop(p)
            row("B10c", f"node start with {keys:,} keys stored, s", many, "s", ten,
                "with 10 keys stored (same run)", ("ratiomax", 2), short="start with many keys")
    shutil.rmtree(tmp, ignore_errors=True)
    if "active" in per:
        b, keys = per["active"]
        row("B10c", f"RSS per idle active key ({keys:,} keys), bytes", b, "B", None, "",
            ("max", 512), note="anonymous RSS growth / keys", short="RSS per active key")
    if "passive" in per:
        b, keys = per["passive"]
        row("B10c", f"RSS per passivated key ({keys:,} keys), bytes", b, "B", None, "",
            ("max", 64), note="after all were passivated", short="RSS per passivated key")


def keyed_driver(tree, *args):
    out = run([os.path.join(tree, "tools", "bench", "bench_keyed")] + list(args))
    line = [l for l in out.splitlines() if l.startswith("B10 ")][-1]
    return {k: float(v) for k, v in re.findall(r"(\w+)=([\d.]+)", line)}


# --------------------------------------------------------------------------
# a domain of nodes (B4, B5c, B8)

def die_with_parent():
    """Child processes get SIGKILL if this script dies without cleaning up."""
    try:
        import ctypes
        ctypes.CDLL(None, use_errno=True).prctl(1, int(signal.SIGKILL))  # PR_SET_PDEATHSIG
    except Exception:
        pass


def free_port():
    """A loopback TCP port free a moment ago."""
    import socket
    with socket.socket() as a:
        a.bind(("127.0.0.1", 0))
        return a.getsockname()[1]


def u64(b):
    return int.from_bytes(b, "little") if len(b) == 8 else None


class Domain:
    """An orchestrator and nodes, each a `ledge` process on loopback TCP
    with its own data folder and log in a scratch folder; the CLI talks to
    it through $LEDGE_ORCHESTRATOR.  close() kills every process it started
    (and die_with_parent covers this script being killed)."""

    def __init__(self, tree, tag, node_timeout=None, tls=False):
        self.bin = os.path.join(tree, "ledge")
        self.tmp = tempfile.mkdtemp(prefix=f"ledge-bench-{tag}-")
        self.procs = {}
        self.scheme = "tls+tcp" if tls else "tcp"
        self.tls = {}
        if tls:
            # A CA and a certificate per process, made as an operator
            # would, for loopback.
            pki = os.path.join(self.tmp, "pki")
            subprocess.run([self.bin, "certs", "init", pki], check=True, capture_output=True)
            subprocess.run([self.bin, "certs", "issue", "--dir", pki, "--role", "orchestrator",
                            "orchestrator", "--role", "node", "n1", "n2", "n3", "--role",
                            "admin", "cli"], check=True, capture_output=True)
            for name in ("orchestrator", "n1", "n2", "n3", "cli"):
                self.tls[name] = ["--tls-cert", os.path.join(pki, name + ".crt"),
                                  "--tls-key", os.path.join(pki, name + ".key"),
                                  "--tls-ca", os.path.join(pki, "ca.crt")]
        self.url = f"{self.scheme}://127.0.0.1:{free_port()}"
        self.env = dict(os.environ, LEDGE_ORCHESTRATOR=self.url)
        cmd = [self.bin, "orchestrator", "--listen", self.url, "--log-level", "warn",
               "--data", os.path.join(self.tmp, "orchestrator")] + self.tls.get("orchestrator", [])
        if node_timeout is not None:
            cmd += ["--node-timeout", f"{node_timeout:g}"]
        self.spawn("orchestrator", cmd)

    def spawn(self, name, cmd):
        with open(os.path.join(self.tmp, name + ".log"), "ab") as logf:
            self.procs[name] = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=logf,
                                                stderr=subprocess.STDOUT,
                                                preexec_fn=die_with_parent)

    def node(self, name, http=None, labels=()):
        cmd = [self.bin, "node", "--orchestrator", self.url, "--name", name,
               "--listen", f"{self.scheme}://127.0.0.1:{free_port()}", "--log-level", "warn",
               "--data", os.path.join(self.tmp, name)] + self.tls.get(name, [])
        if http:
            cmd += ["--http", http]
        for l in labels:
            cmd += ["--label", l]
        self.spawn(name, cmd)

    def wait_in_sync(self, wf, part, secs=15):
        """Until the orchestrator counts the part's replica in sync: only
        then may it take over (before that a lost primary is waited for)."""
        end = time.monotonic() + secs
        while time.monotonic() < end:
            v = self.json("workflow", "show", wf, check=False, timeout=5) or {}
            for p in v.get("parts", []):
                if p.get("part") == part and p.get("replicas_in_sync", 0) >= 1:
                    return
            time.sleep(0.05)
        raise RuntimeError(f"{wf}/{part}: no replica in sync after {secs} s")

    def replica_nodes(self, wf, part):
        v = self.json("workflow", "show", wf, check=False, timeout=5) or {}
        for p in v.get("parts", []):
            if p.get("part") == part:
                return p.get("replica_nodes") or []
        return []

    def file(self, name, text):
        path = os.path.join(self.tmp, name)
        with open(path, "w") as f:
            f.write(text)
        return path

    def cli(self, *args, timeout=30, check=True):
        """Run `ledge ARGS`; returns (exit status, stdout bytes, stderr text)."""
        r = subprocess.run([self.bin] + list(args) + self.tls.get("cli", []),
                           capture_output=True, env=self.env,
                           stdin=subprocess.DEVNULL, timeout=timeout)
        err = r.stderr.decode(errors="replace").strip()
        if check and r.returncode != 0:
            raise RuntimeError(f"ledge {' '.join(args[:3])}: {err or r.returncode}")
        return r.returncode, r.stdout, err

    def json(self, *args, check=True, timeout=30):
        import json
        rc, out, _ = self.cli(*(list(args) + ["--json"]), check=check, timeout=timeout)
        try:
            return json.loads(out) if out.strip() else None
        except ValueError:
            return None

    def state(self, wf, fn):
        """A function's state as {key: bytes} (empty if it cannot be read)."""
        import base64
        v = self.json("state", "get", wf, fn, check=False) or {}
        return {base64.b64decode(e["key"]).decode(errors="replace"): base64.b64decode(e["value"])
                for e in v.get("entries", [])}

    def wait_up(self, names, secs=15):
        end = time.monotonic() + secs
        while time.monotonic() < end:
            v = self.json("node", "list", check=False) or {}
            up = {n["name"] for n in v.get("nodes", []) if n.get("health") == "up"}
            if set(names) <= up:
                return
            for name, p in self.procs.items():
                if p.poll() is not None:
                    raise RuntimeError(f"{name} exited ({p.returncode}): {self.log_tail(name)}")
            time.sleep(0.02)
        raise RuntimeError(f"nodes {names} not up after {secs} s")

    def where(self, wf, part):
        v = self.json("workflow", "show", wf, check=False, timeout=5) or {}
        for p in v.get("parts", []):
            if p.get("part") == part:
                return p.get("node") or ""
        return ""

    def log_tail(self, name, n=5):
        try:
            with open(os.path.join(self.tmp, name + ".log"), errors="replace") as f:
                return " | ".join(l.strip() for l in f.readlines()[-n:])
        except OSError:
            return ""

    def close(self, keep_logs=False):
        for p in self.procs.values():
            if p.poll() is None:
                p.send_signal(signal.SIGINT)
        end = time.monotonic() + 5
        for p in self.procs.values():
            try:
                p.wait(max(0.1, end - time.monotonic()))
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
        if keep_logs:
            log(f"logs kept in {self.tmp}")
        else:
            shutil.rmtree(self.tmp, ignore_errors=True)


def domain_failed(d, what, e):
    log(f"{what} failed: {e}")
    if d is not None:
        for name in d.procs:
            tail = d.log_tail(name, 3)
            if tail:
                log(f"  {name}: {tail}")
    return f"failed: {str(e)[:80]}"


def b4(tree, args):
    """Two nodes, function a on n1 calling and casting to function b on n2.
    RTT: a times K ledge_call()s to b with clock_gettime (inside the
    function, so neither the CLI nor the orchestrator is in the measure),
    alternating with the raw nng req/rep ceiling (bench_nng_rtt, two
    processes over loopback TCP, the same 8-byte probe) and with the same
    calls in a second domain over tls+tcp:// (certificates from `ledge
    certs`); medians of the rounds.  Casts: a casts N events to b, CHUNK
    per handler run; b stores the burst's start time (carried by the
    events) and the time it handled each; rate = N / (last handled -
    start)."""
    xnode = os.path.join(tree, "tools", "bench", "xnode.so")
    k = 1000 if args.quick else 5000
    rounds = 1 if args.quick else 3
    n_casts, chunk = (50000, 1000) if args.quick else (200000, 1000)
    d = t = None
    rtt, ceil, rate, why = [], [], None, ""
    tls_rtt, tls_why = [], ""
    try:
        d = Domain(tree, "b4")
        d.node("n1")
        d.node("n2")
        d.wait_up(["n1", "n2"])
        d.cli("workflow", "start", d.file("b4.yaml", b4_workflow(xnode)))
        try:
            t = Domain(tree, "b4tls", tls=True)
            t.node("n1")
            t.node("n2")
            t.wait_up(["n1", "n2"])
            t.cli("workflow", "start", t.file("b4.yaml", b4_workflow(xnode)))
        except Exception as e:
            tls_why = domain_failed(t, "B4 over TLS", e)
            if t is not None:
                t.close(keep_logs=True)
            t = None
        for _ in range(rounds):
            ceil.append(driver(tree, "nng_rtt", str(free_port()), str(k)))
            rtt.append(b4_rtt(d, k))
            if t is not None and not tls_why:
                try:
                    tls_rtt.append(b4_rtt(t, k))
                except Exception as e:
                    tls_why = domain_failed(t, "B4 over TLS", e)
        if t is not None:
            t.close(keep_logs=bool(tls_why))
            t = None
        d.cli("invoke", "b4", "a", f"casts {n_casts} {chunk}")
        end = time.monotonic() + 120
        st = {}
        while time.monotonic() < end:
            st = d.state("b4", "b")
            if u64(st.get("n", b"")) == n_casts:
                break
            time.sleep(0.1)
        if u64(st.get("n", b"")) != n_casts:
            raise RuntimeError(f"b handled {u64(st.get('n', b''))} of {n_casts} casts")
        rate = n_casts / ((u64(st["t_last"]) - u64(st["t0"])) / 1e9)
    except Exception as e:
        why = domain_failed(d, "B4", e)
    finally:
        for x in (t, d):
            if x is not None:
                x.close(keep_logs=bool(why))

    def med(v, key):
        return statistics.median(x[key] for x in v) if v else None

    cname = "raw nng req/rep between 2 processes, {} (same run)"
    note = f"{len(rtt)} x {k:,} calls inside the caller" if rtt else ""
    row("B4", "call between two nodes, RTT p50, us", med(rtt, "p50_us"), "us",
        med(ceil, "p50_us"), why or cname.format("p50"), ("ratiomax", 1.5), note=note,
        short="cross-node call RTT p50 vs nng")
    row("B4", "call between two nodes, RTT p99, us", med(rtt, "p99_us"), "us",
        med(ceil, "p99_us"), why or cname.format("p99"), ("ratiomax", 1.5),
        short="cross-node call RTT p99 vs nng")
    tls_note = ""
    if tls_rtt and rtt:
        tls_note = f"p99 {med(tls_rtt, 'p99_us'):.0f} us vs {med(rtt, 'p99_us'):.0f} us"
    row("B4", "call between two nodes over tls+tcp://, RTT p50, us", med(tls_rtt, "p50_us"),
        "us", med(rtt, "p50_us"), tls_why or "the same over plain tcp:// (same run)",
        ("show", 0), note=tls_note, short="cross-node call RTT, TLS vs plain")
    row("B4", "casts/s over one link (durable, in order, acked)", rate, "casts/s", None,
        why, ("min", 100000), note=f"{n_casts:,} casts, {chunk:,} per handler run" if rate else "",
        short="casts/s per link")


def b4_workflow(xnode):
    """a on n1 calls and casts to b on n2 (tools/bench/xnode.c)."""
    return (f"workflow: b4\nfunctions:\n  a:\n    code: {xnode}\n"
            f"    config: {{ role: caller }}\n    outputs: {{ peer: b, self: a }}\n"
            f"    placement: {{ node: n1 }}\n  b:\n    code: {xnode}\n"
            f"    placement: {{ node: n2 }}\n")


def b4_rtt(d, k):
    """K calls from a to b, timed inside a: {p50_us, p99_us}."""
    _, out, _ = d.cli("invoke", "--timeout", "120000", "b4", "a", "--call", f"rtt {k}",
                      timeout=130)
    m = dict(re.findall(r"(\w+)=(\d+)", out.decode()))
    if int(m.get("errors", 1)) != 0:
        raise RuntimeError(f"calls failed: {out.decode().strip()}")
    return {"p50_us": int(m["p50_ns"]) / 1e3, "p99_us": int(m["p99_ns"]) / 1e3}


def b5c(tree, args):
    """`ledge workflow start FILE.yaml` to the first event handled.  Each run
    starts a new workflow (a distinct name) whose function is new code (a
    copy of xnode.so with a few bytes appended, so it is uploaded, fetched
    by the node and loaded) and a timer with period_ms 1 wired to it.  The
    function stores CLOCK_MONOTONIC at its first event in its state
    (t_first); this script reads CLOCK_MONOTONIC (the same clock, one
    machine) just before running the command.  So the figure is exactly
    command start -> first event handled (the 1 ms timer period included),
    and needs no polling to be precise: the state is read afterwards."""
    src = os.path.join(tree, "tools", "bench", "xnode.so")
    runs = 5 if args.quick else 15
    d = None
    first, cli_ms, why = [], [], ""
    try:
        d = Domain(tree, "b5c")
        d.node("n1")
        d.wait_up(["n1"])
        for i in range(runs):
            so = os.path.join(d.tmp, f"first{i}.so")
            shutil.copy(src, so)
            with open(so, "ab") as f:
                f.write(f"bench run {i} {time.time_ns()}".encode())
            name = f"b5c-{i}"
            wf = d.file(f"{name}.yaml", f"""workflow: {name}
functions:
  f: {{ code: {so} }}
resources:
  tick:
    type: timer
    config: {{ period_ms: 1 }}
    outputs: {{ tick: f }}
""")
            t0 = time.monotonic_ns()
            d.cli("workflow", "start", wf)
            cli_ms.append((time.monotonic_ns() - t0) / 1e6)
            end = time.monotonic() + 10
            t_first = None
            while t_first is None and time.monotonic() < end:
                t_first = u64(d.state(name, "f").get("t_first", b""))
                if t_first is None:
                    time.sleep(0.01)
            if t_first is None:
                raise RuntimeError(f"{name}: no event handled in 10 s")
            first.append((t_first - t0) / 1e6)
            d.cli("workflow", "stop", name)
    except Exception as e:
        why = domain_failed(d, "B5c", e)
    finally:
        if d is not None:
            d.close(keep_logs=bool(why))
    p50 = statistics.median(first) if first else None
    row("B5", "workflow start to first event, p50, ms", p50, "ms", None, why, ("max", 50),
        note=(f"max {max(first):.1f} ms over {len(first)} runs, new code each; the command "
              f"itself returns after {statistics.median(cli_ms):.1f} ms p50") if first else "",
        short="workflow start -> first event")


def b8_run(d, xnode, timeout, k):
    """One failover: returns (seconds, count after, acknowledged, from, to)."""
    for n in ("a", "b", "c"):
        d.node(n)
    d.wait_up(["a", "b", "c"])
    wf = d.file("fo.yaml", f"""workflow: fo
functions:
  counter:
    code: {xnode}
    state: {{ replicas: 1 }}
""")
    st = d.json("workflow", "start", wf) or {}
    victim = next((p["node"] for p in st.get("placed", []) if p.get("part") == "counter"), None)
    if victim not in d.procs:
        raise RuntimeError(f"counter placed on {victim!r}")
    acked = 0
    for _ in range(k):
        rc, _, _ = d.cli("invoke", "fo", "counter", "x", check=False)
        acked += rc == 0
    d.wait_in_sync("fo", "counter")
    # kill -9 right after the last acknowledgement, then poll every 20 ms.
    # `workflow show` (answered by the orchestrator alone) tells when the
    # part has left the dead node; only then is `invoke --call` tried (a
    # call routed to the dead node would only wait for its own timeout and
    # blur the measure).  The time is taken when the call's answer is in.
    proc = d.procs[victim]
    proc.kill()
    t0 = time.monotonic()
    proc.wait()
    end = t0 + 4 * timeout + 10
    while time.monotonic() < end:
        where = d.where("fo", "counter")
        if where and where != victim:
            rc, out, _ = d.cli("invoke", "--timeout", "1000", "fo", "counter", "--call", "n?",
                               check=False, timeout=10)
            if rc == 0 and out.startswith(b"n="):
                return time.monotonic() - t0, int(out[2:]), acked, victim, where
        time.sleep(0.02)
    raise RuntimeError(f"counter did not answer within {4 * timeout + 10:g} s of the kill of "
                       f"{victim} (placed on {d.where('fo', 'counter')!r})")


def b8(tree, args):
    """Failover: three nodes, a counter with one state replica, K casts
    acknowledged, kill -9 of its node, time until it answers elsewhere,
    and its count.  A fresh domain per run."""
    xnode = os.path.join(tree, "tools", "bench", "xnode.so")
    k = 20
    plans = [(1, 2)] if args.quick else [(1, 8), (3, 4)]
    lost, acked_all, runs_all, why = 0, 0, 0, ""
    for timeout, runs in plans:
        times, moves = [], []
        for i in range(runs):
            d = None
            failed = ""
            try:
                d = Domain(tree, f"b8-{timeout}-{i}", node_timeout=timeout)
                dt, n, acked, frm, to = b8_run(d, xnode, timeout, k)
                times.append(dt)
                moves.append(f"{frm}->{to}")
                lost += abs(acked - n)
                acked_all += acked
                runs_all += 1
                if n != acked:
                    log(f"B8 run {i} (timeout {timeout} s): count {n} after failover, "
                        f"{acked} acknowledged before the kill")
            except Exception as e:
                failed = why = domain_failed(d, f"B8 (timeout {timeout} s, run {i})", e)
            finally:
                if d is not None:
                    d.close(keep_logs=bool(failed))
        p50 = statistics.median(times) if times else None
        mx = max(times) if times else None
        ref_name = f"node timeout {timeout} s" if times else (why or "no run")
        row("B8", f"failover, --node-timeout {timeout}: kill -9 -> answering elsewhere, p50, s",
            p50, "s", float(timeout), ref_name, ("ratiomax", 2),
            note=f"{len(times)} runs; max {mx:.2f} s" if times else "",
            short=f"failover p50, timeout {timeout} s")
        if timeout == 1:
            row("B8", f"failover, --node-timeout {timeout}, max of {len(times)} runs, s", mx, "s",
                float(timeout), ref_name, ("ratiomax", 2), short=f"failover max, timeout {timeout} s")
    row("B8", "failover: acknowledged casts lost or repeated (replicas: 1)",
        lost if runs_all else None, "", None,
        f"{k} casts acknowledged per run, {runs_all} runs, counts checked after the move"
        if runs_all else why, ("max", 0), short="failover: count intact")


def counter_wf(name, so, replicas, where):
    """The durable counter over HTTP, pinned to node `where`, with
    `replicas` state replicas (acknowledged once they hold each write)."""
    return f"""workflow: {name}
functions:
  counter:
    code: {so}
    state: {{ replicas: {replicas} }}
    placement: {{ node: {where} }}
resources:
  web:
    type: http-ingress
    config: {{ path: /counter, methods: [GET, POST], timeout_ms: 10000 }}
    outputs: {{ request: counter }}
"""


def b2r(tree, args):
    """B2 with a synchronous replica: the durable counter and its HTTP
    ingress on node a, its one replica on node b, against the same counter
    without replicas in the same kind of domain, same run, same wrk."""
    so = os.path.join(tree, "functions", "counter", "counter.so")
    tmp = tempfile.mkdtemp(prefix="ledge-bench-b2r-")
    script = os.path.join(tmp, "post.lua")
    with open(script, "w") as f:
        f.write('wrk.method = "POST"\n')
    res, why = {0: [], 1: []}, ""
    rounds = 1 if args.quick else 3
    doms = {}
    try:
        for reps in (0, 1):
            d = Domain(tree, f"b2r-{reps}")
            doms[reps] = d
            port = free_port()
            d.node("a", http=f"127.0.0.1:{port}")
            d.node("b")
            d.wait_up(["a", "b"])
            d.cli("workflow", "start", d.file("c.yaml", counter_wf("c", so, reps, "a")))
            end = time.monotonic() + 15
            while reps and d.replica_nodes("c", "counter") != ["b"]:
                if time.monotonic() > end:
                    raise RuntimeError("counter got no replica on b")
                time.sleep(0.05)
            url = f"http://127.0.0.1:{port}/counter"
            if not wait_http(url):
                raise RuntimeError("the counter does not answer")
            d.url_counter = url
        # Alternate, so that a noisy moment hits both.
        for _ in range(rounds):
            for reps in (0, 1):
                res[reps].append(wrk(doms[reps].url_counter, args.wrk, script))
    except Exception as e:
        why = domain_failed(None, "B2r", e)
    finally:
        for d in doms.values():
            d.close(keep_logs=bool(why))
        shutil.rmtree(tmp, ignore_errors=True)

    def med(k, f):
        return statistics.median(r[f] for r in res[k]) if res[k] else None

    ref = "same counter, no replicas (same run)" if res[0] else (why or "no run")
    row("B2", "durable counter, replicas: 1 (synchronous), req/s", med(1, "rps"), "req/s",
        med(0, "rps"), ref, ("ratio", 0.5),
        note="two nodes on loopback; the ingress on the primary",
        short="replicated counter vs unreplicated")
    row("B2", "durable counter, replicas: 1, p50, ms", med(1, "p50"), "ms", med(0, "p50"),
        ref, None, short="replicated counter p50")
    row("B2", "durable counter, replicas: 1, p99, ms", med(1, "p99"), "ms", med(0, "p99"),
        ref, None, short="replicated counter p99")


def b8c_run(d, so, timeout):
    """Clients with 10 s timeouts keep incrementing through node a while
    the counter's node is killed: seconds from the kill to the first
    answer (200) of a request sent after it."""
    import threading
    import urllib.request
    port = free_port()
    d.node("a", http=f"127.0.0.1:{port}")
    d.node("b", labels=["role=counter"])
    d.node("c", labels=["role=counter"])
    d.wait_up(["a", "b", "c"])
    wf = counter_wf("fc", so, 1, "b").replace("placement: { node: b }",
                                            "placement: { labels: { role: counter } }")
    d.cli("workflow", "start", d.file("fc.yaml", wf))
    url = f"http://127.0.0.1:{port}/counter"
    end = time.monotonic() + 15
    while not d.replica_nodes("fc", "counter"):
        if time.monotonic() > end:
            raise RuntimeError("counter got no replica")
        time.sleep(0.05)
    if not wait_http(url):
        raise RuntimeError("the counter does not answer")
    d.wait_in_sync("fc", "counter")
    victim = d.where("fc", "counter")
    state = {"kill": None, "first": None, "stop": False}

    def client():
        while not state["stop"]:
            sent = time.monotonic()
            try:
                req = urllib.request.Request(url, data=b"", method="POST")
                urllib.request.urlopen(req, timeout=10).read()
                ok = True
            except Exception:
                ok = False
                time.sleep(0.01)
            k = state["kill"]
            if ok and k is not None and sent > k and state["first"] is None:
                state["first"] = time.monotonic()
    ts = [threading.Thread(target=client, daemon=True) for _ in range(4)]
    for t in ts:
        t.start()
    time.sleep(1)
    proc = d.procs[victim]
    state["kill"] = time.monotonic()
    proc.kill()
    proc.wait()
    end = state["kill"] + 4 * timeout + 20
    while state["first"] is None and time.monotonic() < end:
        time.sleep(0.01)
    state["stop"] = True
    for t in ts:
        t.join(12)
    if state["first"] is None:
        raise RuntimeError(f"no answer within {4 * timeout + 20:g} s of the kill of {victim}")
    return state["first"] - state["kill"]


def b8c(tree, args):
    """Failover as callers see it: their calls toward the lost node fail
    at once (LEDGE_EUNAVAIL) instead of waiting out a 10 s timeout, so the
    first answer after the kill is bounded by the node timeout."""
    so = os.path.join(tree, "functions", "counter", "counter.so")
    timeout = 1
    runs = 2 if args.quick else 5
    times, why = [], ""
    for i in range(runs):
        d = None
        failed = ""
        try:
            d = Domain(tree, f"b8c-{i}", node_timeout=timeout)
            times.append(b8c_run(d, so, timeout))
        except Exception as e:
            failed = why = domain_failed(d, f"B8c (run {i})", e)
        finally:
            if d is not None:
                d.close(keep_logs=bool(failed))
    p50 = statistics.median(times) if times else None
    row("B8", f"failover with callers' 10 s timeouts, --node-timeout {timeout}: kill -9 -> "
        "first answer, p50, s", p50, "s", float(timeout),
        f"node timeout {timeout} s" if times else (why or "no run"), ("ratiomax", 1.5),
        note=f"{len(times)} runs, 4 HTTP clients; max {max(times):.2f} s" if times else "",
        short="failover seen by callers")


# --------------------------------------------------------------------------
# output

def machine():
    cpu = "?"
    try:
        with open("/proc/cpuinfo") as f:
            m = re.search(r"model name\s*:\s*(.*)", f.read())
            cpu = m.group(1) if m else cpu
    except OSError:
        pass
    return f"{platform.node()}: {os.cpu_count()} CPUs ({cpu}), {platform.system()} {platform.release()}"


def report(args, which):
    os.makedirs(OUT, exist_ok=True)
    head = ["scenario", "metric", "ledge", "reference", "ratio", "target", "met"]
    lines = []
    for r in ROWS:
        ref = fmt(r["reference"])
        if r["reference_name"]:
            ref = f"{ref} ({r['reference_name']})" if r["reference"] is not None else r["reference_name"]
        met = {True: "yes", False: "NO", None: "-"}[r["met"]]
        ledge = fmt(r["ledge"]) + (f" [{r['note']}]" if r["note"] else "")
        lines.append([r["scenario"], r["metric"], ledge, ref,
                      fmt(r["ratio"]) if r["ratio"] is not None else "-",
                      target_text(r["target"]), met])
    widths = [max(len(h), *(len(l[i]) for l in lines)) for i, h in enumerate(head)]
    print()
    print("  ".join(h.ljust(w) for h, w in zip(head, widths)))
    for l in lines:
        print("  ".join(c.ljust(w) for c, w in zip(l, widths)))
    domain = any(w in which for w in ("B2", "B4", "B5", "B5C", "B8"))
    print(f"\n{machine()}; wrk {args.wrk}; {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}")
    if domain:
        print(DOMAIN_NOTE + ".")
    print("Only ratios within one run compare.")

    with open(os.path.join(OUT, "bench.csv"), "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["scenario", "metric", "ledge", "unit", "reference", "reference_name",
                    "ratio", "target", "met"])
        for r in ROWS:
            w.writerow([r["scenario"], r["metric"], r["ledge"], r["unit"], r["reference"],
                        r["reference_name"], r["ratio"], target_text(r["target"]), r["met"]])
    with open(os.path.join(OUT, "bench.md"), "w") as f:
        f.write("| " + " | ".join(head) + " |\n|" + "---|" * len(head) + "\n")
        for l in lines:
            f.write("| " + " | ".join(c.replace("|", "/") for c in l) + " |\n")
        f.write(f"\n{machine()}; `wrk {args.wrk}`; "
                f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}\n")
        if domain:
            f.write(f"\n{DOMAIN_NOTE}.\n")
    chart()


def chart():
    """One bar per row with a target: how far the target is met (1 = just)."""
    pts = []
    for r in ROWS:
        if r["met"] is None or not r["target"]:
            continue
        kind, x = r["target"]
        if kind == "max" and x == 0:
            score = 1.0 if r["met"] else 0.05
        elif kind in ("ratio", "refratio"):
            score = r["ratio"] / x
        elif kind == "ratiomax":
            score = x / r["ratio"] if r["ratio"] else 10.0
        elif kind == "min":
            score = r["ratio"]  # already value / target
        else:
            score = x / r["ledge"] if r["ledge"] else 10.0
        label = f"{r['scenario']} {r['short'] or r['metric'].split(',')[0]}"[:46]
        pts.append((label, max(score, 0.001)))
    if not pts or shutil.which("gnuplot") is None:
        return
    data = os.path.join(OUT, "bench.dat")
    lo = 0.05
    with open(data, "w") as f:
        for i, (label, score) in enumerate(pts):
            color = 0x30A050 if score >= 1 else 0xC04040
            f.write(f'{i} {max(score, lo):.4f} {color}\n')
    ytics = ", ".join(f'"{l}" {i}' for i, (l, _) in enumerate(pts))
    gp = f"""
set terminal pngcairo size 1100,{140 + 32 * len(pts)} font "sans,10"
set output "{os.path.join(OUT, 'bench.png')}"
set title "ledge vs its targets: factor by which each is met (>= 1 met, log scale)"
set logscale x
set xrange [{lo}:{max(2, max(s for _, s in pts) * 1.5)}]
set yrange [-1:{len(pts)}]
set ytics ({ytics})
set grid xtics
set style fill solid 0.8
unset key
set arrow from 1, graph 0 to 1, graph 1 nohead lw 2 dt 2 lc rgb "#444444"
plot "{data}" using 2:1:({lo}):2:($1-0.35):($1+0.35):3 with boxxyerror lc rgb variable
"""
    try:
        subprocess.run(["gnuplot"], input=gp, text=True, check=True, capture_output=True)
    except subprocess.CalledProcessError as e:
        log("gnuplot failed: " + e.stderr.strip())


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("scenarios", nargs="*",
                    help="B1 .. B10, or B5c (B5's workflow start row alone); "
                    "spaces or commas (default: all)")
    ap.add_argument("--build", default=os.path.join(ROOT, "build-bench"),
                    help="release build tree (default build-bench)")
    ap.add_argument("--quick", action="store_true", help="short loads, one round")
    ap.add_argument("--wrk", default=os.environ.get("BENCH_WRK_ARGS", "-t2 -c32 -d5s"),
                    help="wrk arguments (default -t2 -c32 -d5s)")
    args = ap.parse_args()
    if args.quick and "BENCH_WRK_ARGS" not in os.environ and args.wrk == "-t2 -c32 -d5s":
        args.wrk = "-t2 -c32 -d2s"
    which = [w.upper() for s in args.scenarios for w in s.replace(",", " ").split()] or ALL
    bad = [s for s in which if s not in ALL + ["B5C"]]
    if bad:
        ap.error(f"unknown scenario {bad[0]} (B1..B10, B5c)")
    # Ctrl-C and SIGTERM both unwind through the scenarios' cleanup.
    signal.signal(signal.SIGTERM, lambda sig, frame: sys.exit(128 + sig))
    ensure_tools()
    build(args.build)
    peers, why = ({}, "")
    if "B1" in which or "B2" in which:
        peers, why = peers_run(args.wrk)
        if why:
            log(why)
        b1_b2(args.build, args, peers, why, which)
    if "B3" in which:
        log("B3 chain")
        b3(args.build, args)
    if "B4" in which:
        log("B4 calls and casts between two nodes")
        b4(args.build, args)
    if "B5" in which:
        log("B5 cold start")
        b5(args.build, args)
    if "B5" in which or "B5C" in which:
        log("B5c workflow start to first event")
        b5c(args.build, args)
    if "B6" in which:
        log("B6 memory")
        b6(args.build, args)
    if "B7" in which:
        log("B7 hot reload")
        b7(args.build, args)
    if "B2" in which:
        log("B2 with a synchronous replica")
        b2r(args.build, args)
    if "B8" in which:
        log("B8 failover")
        b8(args.build, args)
        log("B8 failover as callers with 10 s timeouts see it")
        b8c(args.build, args)
    if "B9" in which:
        log("B9 isolation: process against in-node")
        b9(args.build, args)
    if "B10" in which:
        log("B10 keyed functions")
        b10(args.build, args)
    report(args, which)


if __name__ == "__main__":
    main()
