"""`python -m hotline_operators.edge --config-map NAME --list FILE --rpc-socket SOCK`.

In a pod the API server is reached with the pod's service account; elsewhere with
``--kubeconfig`` (or KUBECONFIG).
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import threading
from pathlib import Path
from types import FrameType

from kubernetes import client, config

from hotline_operators.edge.models import FollowerSettings
from hotline_operators.edge.wiring import Follower


def _api(kubeconfig: str | None) -> client.ApiClient:
    if kubeconfig:
        api: client.ApiClient = config.new_client_from_config(  # type: ignore[no-untyped-call]
            config_file=kubeconfig)
        return api
    configuration = client.Configuration()
    config.load_incluster_config(client_configuration=configuration)  # type: ignore[no-untyped-call]
    return client.ApiClient(configuration)


def main() -> None:
    parser = argparse.ArgumentParser(description="Keep Kamailio's dispatcher list equal to "
                                                 "the operator's ConfigMap")
    parser.add_argument("--namespace", default=os.environ.get("POD_NAMESPACE"))
    parser.add_argument("--config-map", required=True, help="spec.edge.dispatcherConfigMap")
    parser.add_argument("--key", default="dispatcher.list", help="spec.edge.dispatcherKey")
    parser.add_argument("--list", required=True, type=Path,
                        help="the dispatcher module's list_file")
    parser.add_argument("--rpc-socket", required=True, type=Path,
                        help="Kamailio's jsonrpcs dgram_socket")
    parser.add_argument("--initial", type=Path,
                        help="with --once: the list to start with while the ConfigMap "
                             "does not exist yet")
    parser.add_argument("--watch-timeout", type=int, default=10)
    parser.add_argument("--once", action="store_true",
                        help="write the current list and exit (init container)")
    parser.add_argument("--kubeconfig", default=os.environ.get("KUBECONFIG"))
    args = parser.parse_args()
    if not args.namespace:
        parser.error("--namespace (or POD_NAMESPACE) is required")
    logging.basicConfig(level=logging.INFO,
                        format="%(asctime)s %(name)s %(levelname)s %(message)s")
    settings = FollowerSettings(namespace=args.namespace, config_map=args.config_map,
                                key=args.key, list_path=args.list, rpc_socket=args.rpc_socket,
                                initial=args.initial, watch_timeout_s=args.watch_timeout)
    stopped = threading.Event()

    def stop(_signum: int, _frame: FrameType | None) -> None:
        stopped.set()
        # The watch blocks in a read for up to --watch-timeout: leave it now. The list
        # file is only ever replaced by rename, so no half-written file stays behind.
        raise SystemExit(0)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    Follower(settings, _api(args.kubeconfig)).run(stopped, once=args.once)


if __name__ == "__main__":
    main()
