"""A certificate authority per run, made with openssl: the API server's serving
certificate and every component's client certificate come from it.

Keys are EC P-256: generating one takes milliseconds, where RSA-2048 takes a
noticeable fraction of a second each on this 2-core machine.
"""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from pathlib import Path


class PkiError(RuntimeError):
    """openssl failed; the message has its output."""


def _openssl(*args: str) -> None:
    done = subprocess.run(["openssl", *args], capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise PkiError(f"openssl {' '.join(args)} failed (exit {done.returncode}):\n"
                       f"{done.stderr[-2000:]}\nIs openssl installed (apt-get install openssl)?")


@dataclass(frozen=True)
class KeyPair:
    cert: Path
    key: Path


@dataclass(frozen=True)
class Authority:
    """A CA whose files live in ``directory``; ``issue`` signs leaf certificates."""

    directory: Path

    @property
    def cert(self) -> Path:
        return self.directory / "ca.crt"

    @property
    def key(self) -> Path:
        return self.directory / "ca.key"

    @classmethod
    def create(cls, directory: Path, name: str = "devstack-ca") -> Authority:
        ca = cls(directory)
        if ca.cert.exists() and ca.key.exists():
            return ca
        directory.mkdir(parents=True, exist_ok=True)
        _openssl("req", "-x509", "-new", "-nodes", "-newkey", "ec",
                 "-pkeyopt", "ec_paramgen_curve:prime256v1", "-keyout", str(ca.key),
                 "-out", str(ca.cert), "-days", "3650", "-subj", f"/CN={name}",
                 "-addext", "basicConstraints=critical,CA:TRUE",
                 "-addext", "keyUsage=critical,keyCertSign,cRLSign,digitalSignature")
        ca.key.chmod(0o600)
        return ca

    def issue(self, file_name: str, *, common_name: str, organizations: tuple[str, ...] = (),
              client: bool = True, server: bool = False, ips: tuple[str, ...] = (),
              dns: tuple[str, ...] = ()) -> KeyPair:
        """A key and a certificate signed by this CA (Kubernetes reads the user from CN
        and the groups from O)."""
        pair = KeyPair(self.directory / f"{file_name}.crt", self.directory / f"{file_name}.key")
        if pair.cert.exists() and pair.key.exists():
            return pair
        subject = "".join(f"/O={o}" for o in organizations) + f"/CN={common_name}"
        csr = self.directory / f"{file_name}.csr"
        ext = self.directory / f"{file_name}.ext"
        usages = [u for u, wanted in (("clientAuth", client), ("serverAuth", server)) if wanted]
        lines = ["basicConstraints=critical,CA:FALSE",
                 "keyUsage=critical,digitalSignature,keyEncipherment",
                 f"extendedKeyUsage={','.join(usages)}"]
        names = [f"IP:{ip}" for ip in ips] + [f"DNS:{d}" for d in dns]
        if names:
            lines.append(f"subjectAltName={','.join(names)}")
        ext.write_text("\n".join(lines) + "\n")
        _openssl("req", "-new", "-nodes", "-newkey", "ec", "-pkeyopt",
                 "ec_paramgen_curve:prime256v1", "-keyout", str(pair.key), "-out", str(csr),
                 "-subj", subject)
        _openssl("x509", "-req", "-in", str(csr), "-CA", str(self.cert), "-CAkey", str(self.key),
                 "-CAcreateserial", "-days", "825", "-out", str(pair.cert), "-extfile", str(ext))
        pair.key.chmod(0o600)
        csr.unlink()
        ext.unlink()
        return pair
