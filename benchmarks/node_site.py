"""Hotline as pods: image build, node start, `helm install` to the first answered call.

    uv run python benchmarks/node_site.py [--idle 20]

Prints: the image build (cached or not, seconds, sizes), the node's start to Ready on
a running API server, `helm install --wait` of site-a on it, the first SIP call
through the edge pod answered by the media-node pod (SIPp's built-in caller against
the demo bank's menu number, retried until one is answered), and the resident memory
of the node's processes and of the site's pods once idle. Root only (the node). A
cold image build is what the first run on an empty cache prints.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

from devstack import images, kubernetes
from devstack.network import POD_GATEWAY
from devstack.settings import ExternalEndpoints
from devstack.site_release import Release, SitePorts, site_values
from devstack.stack import Component, Stack


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def descendants(pid: int) -> list[int]:
    """Every process below ``pid`` (a containerd shim's containers)."""
    children: dict[int, list[int]] = {}
    for status in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = status.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        children.setdefault(int(fields[1]), []).append(int(status.parent.name))
    found, todo = [], [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


HOLD = Path(__file__).parent / "scenarios" / "caller_rtp_holds.xml"


def answered(edge_port: int, work: Path) -> bool:
    """One call to the demo bank's menu: answered, a second on the line, hung up."""
    sipp = shutil.which("sipp")
    assert sipp is not None, "sipp (Debian sip-tester) is missing"
    scenario = work / "caller.xml"
    scenario.write_text(HOLD.read_text().replace("{{media}}", '<pause milliseconds="1000"/>'))
    done = subprocess.run([sipp, f"127.0.0.1:{edge_port}", "-sf", str(scenario), "-s", "800100",
                           "-i", "127.0.0.1", "-m", "1", "-nostdin", "-timeout", "15s",
                           "-timeout_error"], capture_output=True, timeout=40, check=False,
                          cwd=work)
    return done.returncode == 0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--idle", type=float, default=20.0,
                        help="seconds to idle before reading memory")
    args = parser.parse_args()

    started = time.monotonic()
    built = images.build_all()
    took = time.monotonic() - started
    state = "all cached" if all(i.cached for i in built.values()) else "built"
    print(f"images: {took:.1f} s ({state})")
    for image in built.values():
        print(f"  {image.ref:<44} {image.size / 2**20:>6.0f} MiB archive")

    stack = Stack(external=ExternalEndpoints.from_environ({}))
    try:
        stack.up([Component.KAFKA_SITE_A, Component.CASSANDRA_DC_A, Component.KUBERNETES])
        started = time.monotonic()
        stack.up([Component.NODE])
        print(f"node: Ready {time.monotonic() - started:.1f} s after start "
              "(API server already up)")
        assert stack.node is not None and stack.kube is not None
        started = time.monotonic()
        stack.node.import_images(built)
        print(f"images imported into the node's containerd: {time.monotonic() - started:.1f} s")

        binaries = kubernetes.install()
        work = Path(tempfile.mkdtemp(prefix="node-site-"))
        release = Release(name="hotline", namespace="bench-site-a",
                          kubeconfig=stack.kube.kubeconfig_path, helm=binaries.helm,
                          kubectl=binaries.kubectl, workdir=work)
        ports = SitePorts.free()
        values = site_values(site="site-a", peers=["site-b"],
                             kafka=stack.kafka["site-a"].bootstrap,
                             cassandra=stack.cassandra["dc-a"].contact_point,
                             datacenter="dc-a", images=built, node_ip=POD_GATEWAY,
                             ports=ports, workers=1,
                             agent_uri_template="sip:{agent_id}@127.0.0.1:5999")
        release.create_namespace_and_secrets()
        started = time.monotonic()
        release.install(values)
        installed = time.monotonic() - started
        print(f"helm install --wait: {installed:.1f} s")
        while not answered(ports.edge, work):
            if time.monotonic() - started > 600:
                raise SystemExit("no call was answered within 600 s of helm install")
        print(f"first call answered by a media-node pod: {time.monotonic() - started:.1f} s "
              "after helm install began")

        time.sleep(args.idle)  # let start-up work settle before reading memory
        print(f"\nresident memory after {args.idle:.0f} s idle:")
        total = 0.0
        for proc in stack.node.processes():
            assert proc.pid is not None
            rss = rss_mib(proc.pid)
            total += rss
            print(f"  {proc.name:<26} {rss:>8.0f} MiB")
        print(f"  {'node total':<26} {total:>8.0f} MiB")
        shims = subprocess.run(["pgrep", "-f", "containerd-shim-runc-v2"], capture_output=True,
                               text=True, check=False).stdout.split()
        pods = sum(rss_mib(p) for shim in shims for p in [int(shim), *descendants(int(shim))])
        print(f"  {'site-a pods (+ shims)':<26} {pods:>8.0f} MiB")
        release.uninstall()
    finally:
        stack.down()


if __name__ == "__main__":
    main()
