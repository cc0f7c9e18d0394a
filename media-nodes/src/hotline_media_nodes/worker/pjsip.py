"""Thin pjsua2 adapters: an endpoint on one UDP port, and callbacks that only queue.

Every pjsua2 call happens on the main thread: the library runs with no worker
threads of its own (SIP and media sockets are polled by ``Endpoint.poll`` through
``libHandleEvents``), so callbacks arrive on the main thread too. They still only
append a plain tuple to ``SipEvents`` — the controller acts on it after
``libHandleEvents`` returns, never inside pjsip's stack — and they never raise: an
exception escaping a SWIG director would take the process down.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal, TypeVar

import pjsua2 as pj

log = logging.getLogger("hotline.media.worker.pjsip")

MAX_CALLS = 4  # the PyPI wheel's PJSUA_MAX_CALLS; maxCalls above it is silently lowered


@dataclass(frozen=True)
class Incoming:
    call: Call
    src_address: str
    request: str  # the whole INVITE as received


@dataclass(frozen=True)
class MediaActive:
    pj_id: int


@dataclass(frozen=True)
class DtmfKey:
    pj_id: int
    key: str
    method: str  # "rfc4733" | "sip-info"


@dataclass(frozen=True)
class Disconnected:
    pj_id: int
    status: int
    reason: str


@dataclass(frozen=True)
class Progress:
    """An outgoing call's progress: the far end rings (18x) or answered (confirmed)."""

    pj_id: int
    stage: Literal["ringing", "answered"]
    status: int


SipEvent = Incoming | MediaActive | DtmfKey | Disconnected | Progress
SipEvents = deque[SipEvent]

F = TypeVar("F", bound=Callable[..., None])


def _guarded(fn: F) -> F:
    def wrapper(*args: Any) -> None:
        try:
            fn(*args)
        except Exception:  # must not cross into C++: log and keep serving
            log.exception("pjsua2 callback %s failed; the event is dropped, the worker "
                          "goes on", fn.__name__)
    return wrapper  # type: ignore[return-value]


class Call(pj.Call):  # type: ignore[misc]
    def __init__(self, account: Account, call_id: int, events: SipEvents) -> None:
        super().__init__(account, call_id)
        self.events = events
        self.pj_id = call_id

    @_guarded
    def onCallState(self, prm: Any) -> None:
        info = self.getInfo()
        if self.pj_id < 0:  # an outgoing call reports its state before makeCall returns
            self.pj_id = int(info.id)
        if info.state == pj.PJSIP_INV_STATE_DISCONNECTED:
            self.events.append(Disconnected(self.pj_id, int(info.lastStatusCode),
                                            str(info.lastReason)))
        elif info.state == pj.PJSIP_INV_STATE_EARLY and info.role == pj.PJSIP_ROLE_UAC:
            self.events.append(Progress(self.pj_id, "ringing", int(info.lastStatusCode)))
        elif info.state == pj.PJSIP_INV_STATE_CONFIRMED and info.role == pj.PJSIP_ROLE_UAC:
            self.events.append(Progress(self.pj_id, "answered", int(info.lastStatusCode)))

    @_guarded
    def onCallMediaState(self, prm: Any) -> None:
        info = self.getInfo()
        for i, media in enumerate(info.media):
            if (media.type == pj.PJMEDIA_TYPE_AUDIO
                    and media.status == pj.PJSUA_CALL_MEDIA_ACTIVE and self.hasMedia()):
                self.events.append(MediaActive(self.pj_id))
                log.debug("call %s: audio media %d active", self.pj_id, i)
                return

    @_guarded
    def onDtmfDigit(self, prm: Any) -> None:
        method = "sip-info" if prm.method == pj.PJSUA_DTMF_METHOD_SIP_INFO else "rfc4733"
        self.events.append(DtmfKey(self.pj_id, str(prm.digit), method))


class Account(pj.Account):  # type: ignore[misc]
    def __init__(self, events: SipEvents) -> None:
        super().__init__()
        self.events = events

    @_guarded
    def onIncomingCall(self, prm: Any) -> None:
        # The Call object is handed over (and so kept referenced) at once: a pjsua2
        # Call garbage-collected while pjsua still knows it aborts the process.
        call = Call(self, prm.callId, self.events)
        self.events.append(Incoming(call, str(prm.rdata.srcAddress), str(prm.rdata.wholeMsg)))


class Endpoint:
    """The pjsua2 library, one UDP transport, one default account."""

    def __init__(self, bind: str, port: int, user_agent: str) -> None:
        self.events: SipEvents = deque()
        self.ep = pj.Endpoint()
        self.ep.libCreate()
        cfg = pj.EpConfig()
        cfg.uaConfig.threadCnt = 0  # no pjsua worker thread: we poll on the main thread
        cfg.uaConfig.mainThreadOnly = True
        cfg.uaConfig.maxCalls = MAX_CALLS
        cfg.uaConfig.userAgent = user_agent
        cfg.medConfig.threadCnt = 0  # media sockets polled with SIP's, on the main thread
        cfg.medConfig.clockRate = 8000
        cfg.medConfig.sndClockRate = 8000
        cfg.medConfig.noVad = True
        cfg.logConfig.level = 2
        cfg.logConfig.consoleLevel = 2
        self.ep.libInit(cfg)
        tcfg = pj.TransportConfig()
        tcfg.port = port
        tcfg.boundAddress = bind
        tcfg.publicAddress = bind
        self.transport_id = self.ep.transportCreate(pj.PJSIP_TRANSPORT_UDP, tcfg)
        self.ep.libStart()
        self.ep.audDevManager().setNullDev()
        self.port = int(self.ep.transportGetInfo(self.transport_id).localName.rsplit(":", 1)[1])
        acfg = pj.AccountConfig()
        acfg.idUri = f"sip:ivr@{bind}:{self.port}"
        # RTP on the SIP address (not whatever interface routes to the internet), and no
        # re-INVITE to lock one codec when an agent's phone answers with several.
        acfg.mediaConfig.transportConfig.boundAddress = bind
        acfg.mediaConfig.transportConfig.publicAddress = bind
        acfg.mediaConfig.lockCodecEnabled = False
        self.account = Account(self.events)
        self.account.create(acfg, True)

    def poll(self, max_ms: int) -> None:
        self.ep.libHandleEvents(max_ms)
        if _retired:
            reap_retired()

    def shutdown(self) -> None:
        self.ep.hangupAllCalls()
        for _ in range(20):
            self.ep.libHandleEvents(10)
        reap_retired(everything=True)  # before the library goes
        self.account.shutdown()
        self.ep.libDestroy()


# Players and recorders are destroyed a little after they stop, not at once: the
# conference bridge (pjmedia ≥ 2.14) disconnects and removes ports asynchronously, on
# its clock thread's next frame, so a port destroyed at once could still be read by
# that thread. The main loop reaps them (``Endpoint.poll``).
RETIRE_SECONDS = 0.5
_retired: deque[tuple[float, Any]] = deque()


def retire(media_port: Any) -> None:
    _retired.append((time.monotonic() + RETIRE_SECONDS, media_port))


def reap_retired(everything: bool = False) -> None:
    now = time.monotonic()
    while _retired and (everything or _retired[0][0] <= now):
        _retired.popleft()


class Player:
    """One prompt played into one call (kept referenced while it plays)."""

    def __init__(self, path: str | list[str], loop: bool) -> None:
        self.player = pj.AudioMediaPlayer()
        if isinstance(path, list):  # fragments said one after the other (announcements)
            files = pj.StringVector()
            for item in path:
                files.append(item)
            self.player.createPlaylist(files, "", 0 if loop else pj.PJMEDIA_FILE_NO_LOOP)
        else:
            self.player.createPlayer(path, 0 if loop else pj.PJMEDIA_FILE_NO_LOOP)

    def start(self, call: Call) -> None:
        self.player.startTransmit(call.getAudioMedia(-1))

    def stop(self, call: Call | None) -> None:
        if call is not None:
            with contextlib.suppress(pj.Error):  # the call's media may already be gone
                self.player.stopTransmit(call.getAudioMedia(-1))
        retire(self.player)
        del self.player


class Recorder:
    """Both sides of a bridged call mixed into one WAV (kept referenced while it records)."""

    def __init__(self, path: str, caller: Call, agent: Call) -> None:
        self.recorder = pj.AudioMediaRecorder()
        self.recorder.createRecorder(path)
        caller.getAudioMedia(-1).startTransmit(self.recorder)
        agent.getAudioMedia(-1).startTransmit(self.recorder)

    def stop(self, *calls: Call | None) -> None:
        """Stops taking audio from ``calls`` (those still up); the WAV is closed when the
        retired port is destroyed (pjmedia writes its header sizes then)."""
        for call in calls:
            if call is not None:
                with contextlib.suppress(pj.Error):  # that side's media may be gone already
                    call.getAudioMedia(-1).stopTransmit(self.recorder)
        retire(self.recorder)
        del self.recorder


def answer(call: Call, status: int, reason: str = "",
           headers: dict[str, str] | None = None) -> None:
    prm = pj.CallOpParam()
    prm.statusCode = status
    if reason:
        prm.reason = reason
    for name, value in (headers or {}).items():
        header = pj.SipHeader()
        header.hName = name
        header.hValue = value
        prm.txOption.headers.append(header)
    call.answer(prm)


class DialFailed(RuntimeError):
    pass


# Outgoing Call objects pjsua refused: a pjsua2 Call garbage-collected after a failed
# makeCall trips an assertion in the wheel (a debug build) and aborts the process, so
# they are kept here for the process's life (a few hundred bytes each, rare).
_REFUSED: list[Call] = []


def dial(account: Account, uri: str, events: SipEvents) -> Call:
    """An INVITE to ``uri``; its progress arrives as ``Progress``/``Disconnected`` events."""
    call = Call(account, pj.PJSUA_INVALID_ID, events)
    prm = pj.CallOpParam(True)
    try:
        call.makeCall(uri, prm)
    except pj.Error as err:
        _REFUSED.append(call)
        raise DialFailed(f"INVITE to {uri} not sent: {err.info() if hasattr(err, 'info') else err}"
                         ) from None
    call.pj_id = int(call.getId())
    return call


def connect(a: Call, b: Call) -> None:
    """Audio both ways through the conference bridge."""
    a_media, b_media = a.getAudioMedia(-1), b.getAudioMedia(-1)
    a_media.startTransmit(b_media)
    b_media.startTransmit(a_media)


def disconnect(a: Call, b: Call) -> None:
    with contextlib.suppress(pj.Error):  # one side's media may already be gone
        a_media, b_media = a.getAudioMedia(-1), b.getAudioMedia(-1)
        a_media.stopTransmit(b_media)
        b_media.stopTransmit(a_media)


def hangup(call: Call) -> None:
    prm = pj.CallOpParam()
    prm.statusCode = 603 if call.getInfo().state != pj.PJSIP_INV_STATE_CONFIRMED else 200
    call.hangup(prm)


def sip_call_id(call: Call) -> str:
    return str(call.getInfo().callIdString)


def remote_uri(call: Call) -> str:
    return str(call.getInfo().remoteUri)


PjError = pj.Error
