"""`ziti-aio pki create ca|intermediate|server|client`: a PKI directory laid out as `ziti pki` lays it out."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, NoReturn

import typer

from ziti_aio.cli.help_format import Typer
from ziti_aio.common.errors import ZitiError
from ziti_aio.pki.ca import CertAuthority
from ziti_aio.pki.files import leaf_paths, load_ca, save_ca, save_leaf

KEY_HELP = (
    "Keys default to EC P-256 for CAs and clients and RSA-2048 for servers (the server key signs RS256 "
    "enrollment tokens). OpenZiti defaults to RSA-4096 everywhere; smaller keys keep quickstart fast."
)
RSA_SIZES = {2048: "rsa2048", 4096: "rsa4096"}
CURVES = {"P256": "ec256", "P384": "ec384"}

app = Typer(help="Create CAs and certificates", no_args_is_help=True)
create_app = Typer(
    help=f"Create a CA, intermediate CA, server or client certificate. {KEY_HELP}", no_args_is_help=True
)
app.add_typer(create_app, name="create")

PkiRoot = Annotated[Path, typer.Option("--pki-root", help="Directory holding the PKI.")]
KeySize = Annotated[int | None, typer.Option("--private-key-size", help="Use an RSA key of 2048 or 4096 bits.")]
Curve = Annotated[str | None, typer.Option("--curve", help="Use an EC key on curve P256 or P384.")]
SpiffeId = Annotated[
    str | None,
    typer.Option("--spiffe-id", help="SPIFFE id URI SAN: spiffe://td/path, or a path joined to the CA's trust domain."),
]
AllowOverwrite = Annotated[bool, typer.Option("--allow-overwrite", help="Replace existing files.")]
SignerName = Annotated[str, typer.Option("--ca-name", help="Directory name of the signing CA.")]


def _fail(message: str) -> NoReturn:
    typer.echo(f"Error: {message}", err=True)
    raise typer.Exit(1)


@contextmanager
def _reported() -> Iterator[None]:
    """Turn ziti-aio errors into a one-line message and exit code 1."""
    try:
        yield
    except ZitiError as exc:
        _fail(exc.message)


def _key_kind(private_key_size: int | None, curve: str | None, default: str) -> str:
    if private_key_size is not None and curve is not None:
        _fail("choose either --private-key-size or --curve")
    if private_key_size is not None:
        if private_key_size not in RSA_SIZES:
            _fail(f"--private-key-size must be one of {', '.join(map(str, RSA_SIZES))}")
        return RSA_SIZES[private_key_size]
    if curve is not None:
        kind = CURVES.get(curve.upper().replace("-", ""))
        if kind is None:
            _fail(f"--curve must be one of {', '.join(CURVES)}")
        return kind
    return default


def _split(values: list[str] | None) -> list[str]:
    """Values of a repeatable option, each of which may itself be a comma-separated list."""
    return [part.strip() for value in values or [] for part in value.split(",") if part.strip()]


def _check_overwrite(pki_root: Path, ca_name: str, file: str, allow_overwrite: bool) -> None:
    """Refuse, before generating any key, to replace existing files without --allow-overwrite."""
    existing = [str(p) for p in leaf_paths(pki_root, ca_name, file) if p.exists()]
    if existing and not allow_overwrite:
        _fail(f"{', '.join(existing)} already exist(s); pass --allow-overwrite to replace")


def _report(paths: list[Path]) -> None:
    for path in paths:
        typer.echo(f"wrote {path}")


@create_app.command("ca")
def create_ca(
    pki_root: PkiRoot = Path("./pki"),
    ca_file: Annotated[str, typer.Option("--ca-file", help="Directory and file name of the new CA.")] = "ca",
    ca_name: Annotated[str | None, typer.Option("--ca-name", help="Common name (default: --ca-file).")] = None,
    expire_limit: Annotated[int, typer.Option("--expire-limit", min=1, help="Validity in days.")] = 3650,
    max_path_len: Annotated[int, typer.Option("--max-path-len", help="CA levels allowed below; -1: no limit.")] = -1,
    private_key_size: KeySize = None,
    curve: Curve = None,
    trust_domain: Annotated[str | None, typer.Option("--trust-domain", help="SPIFFE trust domain.")] = None,
    allow_overwrite: AllowOverwrite = False,
) -> None:
    """Create a self-signed root CA."""
    with _reported():
        _check_overwrite(pki_root, ca_file, ca_file, allow_overwrite)
        ca = CertAuthority.create_root(
            ca_name or ca_file,
            key_kind=_key_kind(private_key_size, curve, "ec256"),
            days=expire_limit,
            trust_domain=trust_domain,
            max_path_len=None if max_path_len < 0 else max_path_len,
        )
        _report(save_ca(pki_root, ca_file, ca, overwrite=allow_overwrite))


@create_app.command("intermediate")
def create_intermediate(
    pki_root: PkiRoot = Path("./pki"),
    ca_name: SignerName = "ca",
    intermediate_file: Annotated[
        str, typer.Option("--intermediate-file", help="Directory and file name of the new CA.")
    ] = "intermediate",
    intermediate_name: Annotated[
        str | None, typer.Option("--intermediate-name", help="Common name (default: --intermediate-file).")
    ] = None,
    expire_limit: Annotated[int, typer.Option("--expire-limit", min=1, help="Validity in days.")] = 3650,
    max_path_len: Annotated[int, typer.Option("--max-path-len", help="CA levels allowed below; -1: no limit.")] = 0,
    private_key_size: KeySize = None,
    curve: Curve = None,
    allow_overwrite: AllowOverwrite = False,
) -> None:
    """Create an intermediate CA signed by --ca-name."""
    with _reported():
        _check_overwrite(pki_root, intermediate_file, intermediate_file, allow_overwrite)
        signer = load_ca(pki_root, ca_name)
        ca = signer.create_intermediate(
            intermediate_name or intermediate_file,
            key_kind=_key_kind(private_key_size, curve, "ec256"),
            days=expire_limit,
            max_path_len=None if max_path_len < 0 else max_path_len,
        )
        _report(save_ca(pki_root, intermediate_file, ca, overwrite=allow_overwrite))


@create_app.command("server")
def create_server(
    pki_root: PkiRoot = Path("./pki"),
    ca_name: SignerName = "intermediate",
    server_file: Annotated[str, typer.Option("--server-file", help="File name of the certificate.")] = "server",
    server_name: Annotated[
        str | None, typer.Option("--server-name", help="Common name (default: --server-file).")
    ] = None,
    dns: Annotated[list[str] | None, typer.Option("--dns", help="DNS names, comma-separated or repeated.")] = None,
    ip: Annotated[list[str] | None, typer.Option("--ip", help="IP addresses, comma-separated or repeated.")] = None,
    expire_limit: Annotated[int, typer.Option("--expire-limit", min=1, help="Validity in days.")] = 365,
    private_key_size: KeySize = None,
    curve: Curve = None,
    spiffe_id: SpiffeId = None,
    allow_overwrite: AllowOverwrite = False,
) -> None:
    """Create a server certificate.

    For serverAuth and clientAuth, signed by --ca-name.
    """
    with _reported():
        _check_overwrite(pki_root, ca_name, server_file, allow_overwrite)
        ca = load_ca(pki_root, ca_name)
        cert, key = ca.issue_server(
            server_name or server_file,
            dns=_split(dns),
            ips=_split(ip),
            key_kind=_key_kind(private_key_size, curve, "rsa2048"),
            days=expire_limit,
            spiffe_id=spiffe_id,
        )
        _report(save_leaf(pki_root, ca_name, server_file, cert, key, ca.certs, overwrite=allow_overwrite))


@create_app.command("client")
def create_client(
    pki_root: PkiRoot = Path("./pki"),
    ca_name: SignerName = "intermediate",
    client_file: Annotated[str, typer.Option("--client-file", help="File name of the certificate.")] = "client",
    client_name: Annotated[
        str | None, typer.Option("--client-name", help="Common name (default: --client-file).")
    ] = None,
    expire_limit: Annotated[int, typer.Option("--expire-limit", min=1, help="Validity in days.")] = 365,
    private_key_size: KeySize = None,
    curve: Curve = None,
    spiffe_id: SpiffeId = None,
    allow_overwrite: AllowOverwrite = False,
) -> None:
    """Create a client certificate.

    For clientAuth, signed by --ca-name.
    """
    with _reported():
        _check_overwrite(pki_root, ca_name, client_file, allow_overwrite)
        ca = load_ca(pki_root, ca_name)
        cert, key = ca.issue_client(
            client_name or client_file,
            key_kind=_key_kind(private_key_size, curve, "ec256"),
            days=expire_limit,
            spiffe_id=spiffe_id,
        )
        _report(save_leaf(pki_root, ca_name, client_file, cert, key, ca.certs, overwrite=allow_overwrite))
