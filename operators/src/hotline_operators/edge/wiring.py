"""The follow loop: ConfigMap → dispatcher.list → ``dispatcher.reload``."""

from __future__ import annotations

import logging
import threading
import time

from kubernetes import client

from hotline_operators.edge.adapters import ConfigMapSource, KamailioRpc, write_atomically
from hotline_operators.edge.logic import backoff, check_list
from hotline_operators.edge.models import FollowerSettings

log = logging.getLogger("hotline.edge.follower")
ONCE_ATTEMPTS = 5  # init: failed reads of the ConfigMap before starting on --initial


class Follower:
    def __init__(self, settings: FollowerSettings, api: client.ApiClient) -> None:
        self.settings = settings
        self.source = ConfigMapSource(api, settings.namespace, settings.config_map)
        self.rpc = KamailioRpc(settings.rpc_socket, settings.rpc_timeout_s)
        self.written: str | None = None  # the list in the file
        self.reloaded: str | None = None  # the list Kamailio has loaded
        self.applied = threading.Event()  # set once a list is written and reloaded
        self._where = f"{settings.namespace}/{settings.config_map}"

    def apply(self, data: dict[str, str] | None, version: str) -> None:
        """Write the ConfigMap's list and have Kamailio load it; raises if Kamailio
        cannot be told (the caller retries, the file already holds the new list)."""
        if data is None:
            log.warning("ConfigMap %s does not exist (resourceVersion %s): Kamailio keeps "
                        "its current list until the operator writes one", self._where,
                        version)
        else:
            checked = check_list(data, self.settings.key)
            if checked.text is None:
                log.error("ConfigMap %s (resourceVersion %s) refused: %s; Kamailio keeps its "
                          "current list", self._where, version, checked.problem)
            elif checked.text != self.written:
                write_atomically(self.settings.list_path, checked.text)
                self.written = checked.text
                log.info("wrote %s: %d destinations from ConfigMap %s (resourceVersion %s)",
                         self.settings.list_path, checked.destinations, self._where, version)
        self.reload()

    def reload(self) -> None:
        if self.written is None or self.written == self.reloaded:
            return
        started = time.monotonic()
        self.rpc.call("dispatcher.reload")
        self.reloaded = self.written
        self.applied.set()
        log.info("Kamailio reloaded its dispatcher list in %.3fs",
                 time.monotonic() - started)

    def run(self, stopped: threading.Event, once: bool = False) -> None:
        """Follow until ``stopped``; with ``once``, write the current list and return
        (an init container: Kamailio needs the file before it starts)."""
        version: str | None = None
        failures = 0
        while not stopped.is_set():
            try:
                if version is None:
                    data, listed = self.source.current()
                    if once:
                        self._write_once(data, listed)
                        return
                    self.apply(data, listed)
                    version = listed
                else:
                    self.reload()  # a reload that failed earlier
                for kind, data, seen in self.source.changes(
                        version, self.settings.watch_timeout_s):
                    if kind != "BOOKMARK":
                        self.apply(data, seen)
                    version = seen  # only once applied: a failed one is watched again
                    if stopped.is_set():
                        return
                failures = 0
            except client.ApiException as exc:
                if exc.status == 410:
                    log.info("watch of %s expired (410 Gone): listing it again", self._where)
                    version = None
                    continue
                failures += 1
                why = f"the API server answered {exc.status} {exc.reason}"
                if once and self._start_without_api(failures, why):
                    return
                self._wait(stopped, failures, why)
            except Exception as exc:  # any failure: back off and go on
                failures += 1
                why = f"{type(exc).__name__}: {exc}"
                if once and self._start_without_api(failures, why):
                    return
                self._wait(stopped, failures, why)

    def _start_without_api(self, failures: int, why: str) -> bool:
        """Init only: after a few failed attempts, start Kamailio with the chart's list
        rather than keep the edge down while the API server is away (the follower
        catches up once it answers)."""
        if failures < ONCE_ATTEMPTS or self.settings.initial is None:
            return False
        checked = check_list({"list": self.settings.initial.read_text()}, "list")
        if checked.text is None:
            return False
        write_atomically(self.settings.list_path, checked.text)
        log.error("could not read ConfigMap %s (%s) after %d attempts: wrote %s from %s so "
                  "Kamailio can start; the follower will load the operator's list once the "
                  "API server answers", self._where, why, failures, self.settings.list_path,
                  self.settings.initial)
        return True

    def _write_once(self, data: dict[str, str] | None, version: str) -> None:
        checked = check_list(data, self.settings.key)
        source = f"ConfigMap {self._where} (resourceVersion {version})"
        if checked.text is None and self.settings.initial is not None:
            log.warning("%s gives no usable list (%s): starting with %s", source,
                        checked.problem if data is not None else "it does not exist yet",
                        self.settings.initial)
            source = str(self.settings.initial)
            checked = check_list({"list": self.settings.initial.read_text()}, "list")
        if checked.text is None:
            # Retried by run() with backoff: Kamailio must not start with no list.
            raise ValueError(f"{source} gives no usable dispatcher list: "
                             f"{checked.problem or 'it does not exist'}")
        write_atomically(self.settings.list_path, checked.text)
        log.info("wrote %s: %d destinations from %s (before Kamailio starts)",
                 self.settings.list_path, checked.destinations, source)

    def _wait(self, stopped: threading.Event, failures: int, why: str) -> None:
        delay = backoff(failures, self.settings.backoff_initial_s, self.settings.backoff_max_s)
        log.warning("following ConfigMap %s failed (%s); retrying in %.1fs (attempt %d)%s",
                    self._where, why, delay, failures,
                    "; Kamailio still routes by its previous list"
                    if self.written != self.reloaded else "")
        stopped.wait(delay)
