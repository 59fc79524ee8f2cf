#!/usr/bin/env python3
"""Static checks of deploy/ (Docker and Kubernetes cannot run here): nginx -t on every nginx config,
systemd-analyze verify on the unit, the Compose file and Kubernetes manifests parsed with their required
fields, the Grafana dashboard and alert rules referencing only metrics the server exports, and the
Dockerfile's runtime libraries matching what the binary links, and the Dockerfile's steps that can run
here run (its runtime packages install, its HEALTHCHECK against a live server). Prints one line per check and
`N passed, N failed`; exits non-zero on a failure."""

import json
import os
import re
import socket
import subprocess
import sys
import tempfile

import yaml  # Debian python3-yaml

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DEPLOY = os.path.join(ROOT, "deploy")
BINARY = os.path.join(ROOT, os.environ.get("SWITCHBOARD_BIN", "build/switchboard"))
results = []


def check(name):
    def wrap(fn):
        try:
            fn()
            results.append((name, None))
        except Exception as e:  # noqa: BLE001 - every failure is reported, none stops the others
            results.append((name, f"{type(e).__name__}: {e}"))
        return fn
    return wrap


def load_yaml_all(path):
    with open(path) as f:
        return [d for d in yaml.safe_load_all(f) if d is not None]


@check("nginx -t on every nginx config (deploy/, examples/)")
def nginx_configs():
    configs = [os.path.join(DEPLOY, "nginx", n) for n in os.listdir(os.path.join(DEPLOY, "nginx"))]
    configs.append(os.path.join(ROOT, "examples", "multi-instance", "nginx.conf"))
    for conf in configs:
        with tempfile.TemporaryDirectory() as tmp:
            text = open(conf).read()
            # Compose's fixed addresses exist only inside Docker's network: loopback ports stand in.
            text = re.sub(r"172\.28\.0\.(\d+):5000", r"127.0.0.1:50\1", text)
            path = os.path.join(tmp, "nginx.conf")
            open(path, "w").write(text)
            extra = [] if re.search(r"^pid ", text, re.M) else ["-g", f"pid {tmp}/nginx.pid;"]
            r = subprocess.run(["nginx", "-t", "-q", "-p", tmp + "/", "-e", "stderr", "-c", path, *extra],
                               capture_output=True, text=True)
            assert r.returncode == 0, f"{conf}: {r.stderr}"


@check("systemd-analyze verify deploy/systemd/switchboard.service")
def systemd_unit():
    unit = open(os.path.join(DEPLOY, "systemd", "switchboard.service")).read()
    for key in ["DynamicUser=yes", "ProtectSystem=strict", "LimitNOFILE=", "EnvironmentFile=",
                "NoNewPrivileges=yes"]:
        assert key in unit, f"the unit lacks {key}"
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "switchboard.service")
        open(path, "w").write(unit.replace("/usr/local/bin/switchboard", BINARY))
        r = subprocess.run(["systemd-analyze", "verify", path], capture_output=True, text=True)
        assert r.returncode == 0 and not r.stderr.strip(), r.stderr


@check("compose.yaml: Redis with password and health check, three instances, nginx")
def compose():
    doc = load_yaml_all(os.path.join(DEPLOY, "compose.yaml"))[0]
    services = doc["services"]
    redis = services["redis"]
    assert "--requirepass" in redis["command"], "Redis needs a password"
    assert "healthcheck" in redis
    instances = [n for n in services if n.startswith("switchboard-")]
    assert len(instances) == 3, instances
    for name in instances:
        s = services[name]
        assert s["depends_on"]["redis"]["condition"] == "service_healthy"
        assert "REDIS_PASSWORD" in s["environment"]["SWITCHBOARD_BACKPLANE"]
        assert s["ulimits"]["nofile"]["soft"] >= 65536
    nginx = services["nginx"]
    conf = nginx["volumes"][0].split(":")[0]
    assert os.path.exists(os.path.join(DEPLOY, conf)), conf
    text = open(os.path.join(DEPLOY, conf)).read()
    for name in instances:
        address = services[name]["networks"]["switchboard"]["ipv4_address"]
        assert f"{address}:5000" in text, f"nginx does not route to {name} ({address})"
    for directive in ["proxy_set_header Upgrade", "proxy_buffering off", "proxy_read_timeout"]:
        assert directive in text, directive


def manifests():
    base = os.path.join(DEPLOY, "k8s")
    kust = load_yaml_all(os.path.join(base, "kustomization.yaml"))[0]
    docs = []
    for res in kust["resources"]:
        docs += load_yaml_all(os.path.join(base, res))
    return kust, {(d["kind"], d["metadata"]["name"]): d for d in docs}


@check("Kubernetes base: Deployment, probes, drain, security, Secret, Service, Ingress, PDB, HPA")
def kubernetes():
    kust, docs = manifests()
    for doc in docs.values():
        assert doc.get("apiVersion") and doc.get("kind") and doc["metadata"].get("name"), doc
    dep = docs[("Deployment", "switchboard")]
    assert dep["spec"]["replicas"] == 3
    assert dep["spec"]["selector"]["matchLabels"].items() <= dep["spec"]["template"]["metadata"]["labels"].items()
    pod = dep["spec"]["template"]["spec"]
    c = pod["containers"][0]
    assert c["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert c["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert c["resources"]["requests"]["cpu"] and c["resources"]["requests"]["memory"]
    # Grace period covers preStop + --drain-timeout.
    drain = int(re.match(r"(\d+)s", c["args"][c["args"].index("--drain-timeout") + 1]).group(1))
    pre_stop = int(c["lifecycle"]["preStop"]["exec"]["command"][-1])
    assert pod["terminationGracePeriodSeconds"] > drain + pre_stop, "grace period below drain + preStop"
    env = [e["name"] for e in c["env"]]
    assert env.index("REDIS_PASSWORD") < env.index("Redis__ConnectionString"), \
        "$(REDIS_PASSWORD) expands only when declared earlier"
    secret = next(e for e in c["env"] if e["name"] == "REDIS_PASSWORD")["valueFrom"]["secretKeyRef"]
    assert secret["name"] in [g["name"] for g in kust["secretGenerator"]]
    svc = docs[("Service", "switchboard")]
    assert svc["spec"]["selector"] == dep["spec"]["selector"]["matchLabels"]
    ing = docs[("Ingress", "switchboard")]
    ann = ing["metadata"]["annotations"]
    assert ann["nginx.ingress.kubernetes.io/affinity"] == "cookie"
    assert ann["nginx.ingress.kubernetes.io/proxy-buffering"] == "off"
    backend = ing["spec"]["rules"][0]["http"]["paths"][0]["backend"]["service"]["name"]
    assert backend == "switchboard"
    pdb = docs[("PodDisruptionBudget", "switchboard")]
    assert pdb["spec"]["selector"]["matchLabels"] == dep["spec"]["selector"]["matchLabels"]
    hpa = docs[("HorizontalPodAutoscaler", "switchboard")]
    assert hpa["spec"]["scaleTargetRef"]["name"] == "switchboard" and hpa["spec"]["minReplicas"] >= 3
    assert ("Deployment", "redis") in docs and ("Service", "redis") in docs


def exported_metrics():
    names = set()
    for folder, _, files in os.walk(os.path.join(ROOT, "src")):
        for f in files:
            if f.endswith(".cpp"):
                names |= set(re.findall(r'"((?:switchboard|process)_[a-z_]+)"', open(os.path.join(folder, f)).read()))
    return names | {"up"}


def metric_names(expr):
    words = set(re.findall(r"\b([a-z_][a-z0-9_]*)\b(?=\s*[{\[)\s]|\s*$)", expr))
    functions = {"sum", "rate", "increase", "min", "max", "by", "label_values", "instance", "job", "le"}
    return {w for w in words if (w.startswith("switchboard_") or w.startswith("process_") or w == "up")} - functions


@check("Prometheus alert rules parse and use exported metrics")
def alerts():
    doc = load_yaml_all(os.path.join(DEPLOY, "prometheus", "alerts.yaml"))[0]
    known = exported_metrics()
    rules = [r for g in doc["groups"] for r in g["rules"]]
    assert len(rules) >= 5
    for rule in rules:
        assert rule["alert"] and rule["expr"] and rule["annotations"]["summary"], rule
        used = metric_names(rule["expr"])
        assert used, f"{rule['alert']}: no metric"
        assert used <= known, f"{rule['alert']}: unknown {used - known}"


@check("Grafana dashboard parses and uses exported metrics")
def grafana():
    dash = json.load(open(os.path.join(DEPLOY, "grafana", "switchboard.json")))
    known = exported_metrics()
    exprs = [t["expr"] for p in dash["panels"] for t in p["targets"]]
    assert len(exprs) >= 10
    for expr in exprs:
        used = metric_names(expr)
        assert used and used <= known, f"{expr}: unknown {used - known}"
    text = json.dumps(dash)
    for must in ["switchboard_connections", "switchboard_messages_sent_total", "switchboard_backplane_connected"]:
        assert must in text, must


@check("Dockerfile: Debian 12, multi-stage, non-root, HEALTHCHECK /healthz, runtime libraries of the binary")
def dockerfile():
    text = open(os.path.join(DEPLOY, "Dockerfile")).read()
    assert re.search(r"^FROM debian:12 AS build", text, re.M)
    assert re.search(r"^FROM debian:12-slim", text, re.M)
    assert re.search(r"^USER 10001", text, re.M)
    assert "HEALTHCHECK" in text and "/healthz" in text
    assert "make build" in text and "/usr/local/share/switchboard/web" in text
    if not os.path.exists(BINARY):
        return
    r = subprocess.run(["ldd", BINARY], capture_output=True, text=True, check=True)
    libs = re.findall(r"=> (/\S+)", r.stdout)
    packages = set()
    for lib in libs:
        q = subprocess.run(["dpkg", "-S", os.path.realpath(lib)], capture_output=True, text=True)
        if q.returncode != 0:
            q = subprocess.run(["dpkg", "-S", lib], capture_output=True, text=True)
        if q.returncode == 0:
            packages.add(q.stdout.split(":")[0])
    # The direct libraries of the binary; their own dependencies come with apt.
    direct = {p for p in packages if re.match(r"lib(boost|spdlog|fmt|ssl|hiredis|pq|nats|edit)", p)}
    missing = {p for p in direct if p not in text}
    assert not missing, f"the runtime stage lacks {missing}"


def dockerfile_stages():
    """The Dockerfile's stages: [(FROM line, [RUN commands with continuations joined])]."""
    text = open(os.path.join(DEPLOY, "Dockerfile")).read().replace("\\\n", " ")
    stages = []
    for line in text.splitlines():
        if line.startswith("FROM "):
            stages.append((line, []))
        elif line.startswith("RUN ") and stages:
            stages[-1][1].append(line[4:].strip())
    return stages


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@check("Dockerfile steps run here: the build stage is what make test runs, the runtime packages install, "
       "the HEALTHCHECK passes against a live server and fails without one")
def dockerfile_steps():
    (_, build), (_, runtime) = dockerfile_stages()
    # The build stage's own work is scripts/install-deps and make build, which `make test` runs.
    assert any("scripts/install-deps" in r for r in build) and any("make build" in r for r in build), build
    packages = re.search(r"apt-get install -y --no-install-recommends ([^&]+)&&", runtime[0]).group(1).split()
    r = subprocess.run(["apt-get", "install", "-s", "--no-install-recommends", *packages],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr
    assert not re.search(r"^Remv libboost1\.81", r.stdout, re.M), "the runtime packages would remove Boost 1.81"
    text = open(os.path.join(DEPLOY, "Dockerfile")).read()
    command = json.loads(re.search(r"^\s*CMD (\[.*\])$", text, re.M).group(1))
    assert command[:2] == ["bash", "-c"], command
    if not os.path.exists(BINARY):
        raise RuntimeError("build/switchboard is missing: make build first")
    port = free_port()
    probe = command[2].replace("127.0.0.1/5000", f"127.0.0.1/{port}")
    assert probe != command[2], "the HEALTHCHECK no longer names 127.0.0.1/5000"
    assert subprocess.run(["bash", "-c", probe], capture_output=True, timeout=10).returncode != 0, \
        "the HEALTHCHECK passed with no server"
    server = subprocess.Popen([BINARY, "serve", "--listen", f"127.0.0.1:{port}"],
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        # Ready once it says so (stdout ends with the process, so this read cannot hang).
        for line in server.stdout:
            if "listening on" in line:
                break
        else:
            raise AssertionError("the server exited before it listened")
        r = subprocess.run(["bash", "-c", probe], capture_output=True, timeout=10)
        assert r.returncode == 0, "the HEALTHCHECK failed against a live server"
    finally:
        server.terminate()
        server.wait(timeout=10)


@check("make install DESTDIR: binary, unit, env file and demo files in FHS places")
def make_install():
    if not os.path.exists(BINARY):
        raise RuntimeError("build/switchboard is missing: make build first")
    with tempfile.TemporaryDirectory() as tmp:
        r = subprocess.run(["make", "--no-print-directory", "install-files", f"DESTDIR={tmp}"],
                           cwd=ROOT, capture_output=True, text=True)
        assert r.returncode == 0, r.stdout + r.stderr
        for path in ["usr/local/bin/switchboard", "etc/systemd/system/switchboard.service",
                     "etc/switchboard/switchboard.env", "usr/local/share/switchboard/web/index.html"]:
            assert os.path.exists(os.path.join(tmp, path)), path


for name, error in results:
    print(("ok    " if error is None else "FAIL  ") + name + ("" if error is None else "\n      " + error))
failed = sum(1 for _, e in results if e)
print(f"{len(results) - failed} passed, {failed} failed")
sys.exit(1 if failed else 0)
