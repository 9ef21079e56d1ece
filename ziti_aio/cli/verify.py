"""``ziti-aio verify ca``: prove to the controller that you hold a third-party CA's key, so it trusts the CA.

The proof is a certificate the CA signed whose common name is the CA's ``verificationToken``: given with
``--cert``, or made here from the CA's certificate and key (``--cacert``/``--cakey``), as ``ziti verify ca`` does.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from ziti_aio.cli.client import CliError, open_client, reported
from ziti_aio.cli.help_format import Typer
from ziti_aio.cli.request_options import with_request_options
from ziti_aio.pki.bundle import certs_to_pem, load_certs_pem
from ziti_aio.pki.ca import CertAuthority
from ziti_aio.pki.keys import load_key

MAX_PEM_BYTES = 64 * 1024
VERIFICATION_CERT_DAYS = 1

app = Typer(help="Verify entities (a CA's proof of possession)", no_args_is_help=True)


def _read_pem(path: Path) -> bytes:
    if path.stat().st_size > MAX_PEM_BYTES:
        raise CliError(f"{path} is larger than {MAX_PEM_BYTES} bytes")
    return path.read_bytes()


def verification_cert(token: str, ca_cert: Path, ca_key: Path) -> str:
    """A certificate for ``token`` signed by the CA in ``ca_cert``/``ca_key`` (PEM)."""
    cert = load_certs_pem(_read_pem(ca_cert))[0]
    key = load_key(_read_pem(ca_key))
    if key.public_key() != cert.public_key():
        raise CliError(f"{ca_key} does not hold the key of {ca_cert}")
    issued, _ = CertAuthority(cert, key).issue_client(token, days=VERIFICATION_CERT_DAYS)
    return certs_to_pem([issued]).decode()


def verify_ca(
    name_or_id: Annotated[str, typer.Argument(metavar="NAME", help="The CA's name or id.")],
    cert: Annotated[Path | None, typer.Option(
        "-c", "--cert", help="A certificate the CA signed, its common name the CA's verification token.")] = None,
    ca_cert: Annotated[Path | None, typer.Option("-a", "--cacert", help="The CA's certificate, to make one.")
                       ] = None,
    ca_key: Annotated[Path | None, typer.Option("-k", "--cakey", help="The CA's key (unencrypted PEM), to make one.")
                      ] = None,
) -> None:
    """Verify a CA: prove you hold its key.

    \b
    Examples:
      ziti-aio verify ca my-ca --cacert ca.cert --cakey ca.key
      ziti-aio verify ca my-ca --cert verification.cert
    """
    with open_client() as client:
        ca = client.find("cas", name_or_id, label="ca")
        if cert is not None:
            pem = _read_pem(cert).decode()
        elif ca_cert is not None and ca_key is not None:
            pem = verification_cert(ca["verificationToken"], ca_cert, ca_key)
        else:
            raise CliError("give --cert FILE, or --cacert FILE and --cakey FILE")
        client.verify_ca(ca["id"], pem)
        typer.echo(f"verified ca {ca['name']}")


app.command("ca")(reported(with_request_options(verify_ca, tags=False)))
