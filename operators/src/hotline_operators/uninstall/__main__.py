"""``python -m hotline_operators.uninstall --namespace NS [--timeout 60]``."""

from __future__ import annotations

import argparse
import logging
import os
import sys
import time
from typing import Any

from kubernetes import client

from hotline_operators import crds
from hotline_operators.incluster import api_client
from hotline_operators.queues.logic import MANAGED_BY
from hotline_operators.uninstall.logic import (
    Leftover,
    finalizer_patch,
    leftovers,
    removed_line,
    stuck_line,
)

log = logging.getLogger("hotline.uninstall")
PLURALS = (crds.SITES, crds.QUEUES)
POLL_S = 1.0


class Namespace:
    def __init__(self, api: client.ApiClient, namespace: str) -> None:
        self.objects = client.CustomObjectsApi(api)
        self.core = client.CoreV1Api(api)
        self.namespace = namespace

    def remaining(self) -> list[Leftover]:
        found: list[Leftover] = []
        for plural in PLURALS:
            listed: Any = self.objects.list_namespaced_custom_object(
                crds.GROUP, crds.VERSION, self.namespace, plural)
            found += leftovers(plural, listed.get("items", []))
        return found

    def delete(self, item: Leftover) -> None:
        try:
            self.objects.delete_namespaced_custom_object(
                crds.GROUP, crds.VERSION, self.namespace, item.plural, item.name,
                propagation_policy="Background")
        except client.ApiException as exc:
            if exc.status != 404:
                raise

    def drop_finalizer(self, item: Leftover) -> bool:
        patch = finalizer_patch(item)
        if patch is None:
            return False
        try:
            self.objects.patch_namespaced_custom_object(
                crds.GROUP, crds.VERSION, self.namespace, item.plural, item.name, patch)
        except client.ApiException as exc:
            if exc.status != 404:
                raise
        return True

    def delete_operator_config_maps(self) -> list[str]:
        """The tenants ConfigMap (the namespace's, not a site's) and any site ConfigMap
        the garbage collector has not reached yet."""
        listed = self.core.list_namespaced_config_map(
            self.namespace, label_selector=f"app.kubernetes.io/managed-by={MANAGED_BY}")
        names = [str(cm.metadata.name) for cm in listed.items if cm.metadata is not None]
        for name in names:
            try:
                self.core.delete_namespaced_config_map(name, self.namespace)
            except client.ApiException as exc:
                if exc.status != 404:
                    raise
        return names


def wait_gone(ns: Namespace, deadline: float) -> list[Leftover]:
    while True:
        left = ns.remaining()
        if not left or time.monotonic() >= deadline:
            return left
        time.sleep(POLL_S)


def run(ns: Namespace, timeout_s: float) -> int:
    started = time.monotonic()
    objects = ns.remaining()
    for item in objects:
        ns.delete(item)
    log.info("deleting %d object(s) in %s: %s", len(objects), ns.namespace,
             ", ".join(i.ref for i in objects) or "none")
    left = wait_gone(ns, started + timeout_s)
    if left:
        for item in left:
            if ns.drop_finalizer(item):
                log.warning(removed_line(item, timeout_s))
        left = wait_gone(ns, time.monotonic() + 10)
        for item in left:
            log.error(stuck_line(item))
    # Twice: a render the operator began before the last queue went may write the
    # tenants ConfigMap again just after the first delete.
    for _ in range(2):
        deleted = ns.delete_operator_config_maps()
        if deleted:
            log.info("deleted ConfigMap(s) %s", ", ".join(deleted))
        time.sleep(2 * POLL_S)
    log.info("uninstall of %s done in %.1fs%s", ns.namespace, time.monotonic() - started,
             f"; {len(left)} object(s) left" if left else "")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m hotline_operators.uninstall",
                                     description="Delete the namespace's Hotline sites and "
                                                 "queues before the operator goes")
    parser.add_argument("--namespace", default=os.environ.get("POD_NAMESPACE"))
    parser.add_argument("--timeout", type=float, default=60.0,
                        help="seconds to wait for the operator before removing its "
                             "finalizer itself")
    args = parser.parse_args(argv)
    if not args.namespace:
        parser.error("--namespace (or POD_NAMESPACE) is required")
    logging.basicConfig(level=logging.INFO, stream=sys.stdout,
                        format="%(asctime)s %(levelname)s %(message)s")
    return run(Namespace(api_client(), args.namespace), args.timeout)


if __name__ == "__main__":
    raise SystemExit(main())
