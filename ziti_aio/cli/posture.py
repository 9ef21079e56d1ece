"""``ziti-aio create posture-check os|mac|domain|process|process-multi|mfa NAME ...``, with ``ziti edge create
posture-check``'s arguments and options (docs/posture.md §7). ``list posture-checks`` and ``delete
posture-check`` are the generic nouns."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any, ParamSpec, TypeVar

import typer

from ziti_aio.cli.client import CliError, open_client, reported
from ziti_aio.cli.help_format import Typer
from ziti_aio.cli.options import Csv, RoleAttributes, semantic, split_csv
from ziti_aio.cli.request_options import current, with_request_options

P = ParamSpec("P")
R = TypeVar("R")

OS_TYPES = ("Android", "Windows", "WindowsServer", "macOS", "iOS", "Linux")
PROCESS_OS_TYPES = ("Windows", "WindowsServer", "macOS", "Linux")

app = Typer(help="Create a posture check (a device requirement)", no_args_is_help=True)

Hashes = Annotated[Csv, typer.Option("-s", "--hash-sigs", help="SHA-512 hashes of the allowed binaries: h1,h2.")]


def _command(name: str) -> Callable[[Callable[P, R]], Callable[P, R]]:
    def register(fn: Callable[P, R]) -> Callable[P, R]:
        wrapped = reported(with_request_options(fn, tags=True))
        app.command(name)(wrapped)
        return wrapped

    return register


def os_type(value: str, allowed: tuple[str, ...] = OS_TYPES) -> str:
    """An OS name as posture checks spell it, case-insensitively (``linux`` is ``Linux``)."""
    for known in allowed:
        if value.strip().lower() == known.lower():
            return known
    raise CliError(f"the OS type must be one of {', '.join(allowed)}, not {value!r}")


def os_spec(text: str) -> dict[str, Any]:
    """``TYPE[:VERSION[:VERSION...]]`` (ziti's ``--os``) as an ``operatingSystems`` item."""
    kind, *versions = text.split(":")
    return {"type": os_type(kind), "versions": [v.strip() for v in versions if v.strip()]}


def _create(type_id: str, name: str, role_attributes: Csv, **fields: Any) -> None:
    body = {"name": name, "typeId": type_id, "roleAttributes": split_csv(role_attributes), **fields}
    with open_client() as client:
        ident = client.create("posture-checks", body)
    if not current().output_json:
        typer.echo(f"New posture check {name} created with id: {ident}")


@_command("os")
def create_os(
    name: str,
    os: Annotated[list[str], typer.Option("-o", "--os", help="TYPE[:VERSION...], e.g. Linux:>=5.10 (repeatable).")],
    role_attributes: RoleAttributes = None,
) -> None:
    """Require an operating system (and versions).

    A version may be a constraint: >=10.0.19041, <6, or 1.2 || 1.4.

    \b
    Examples:
      ziti-aio create posture-check os modern-linux --os 'Linux:>=5.10' -a laptops
      ziti-aio create posture-check os desktops -o Windows -o macOS
    """
    _create("OS", name, role_attributes, operatingSystems=[os_spec(part) for part in split_csv(os)])


@_command("mac")
def create_mac(
    name: str,
    mac_addresses: Annotated[Csv, typer.Option("-m", "--mac-addresses", help="Allowed MAC addresses: m1,m2.")] = None,
    role_attributes: RoleAttributes = None,
) -> None:
    """Require a network interface with one of these MAC addresses."""
    if not split_csv(mac_addresses):
        raise CliError("give at least one MAC address with -m")
    _create("MAC", name, role_attributes, macAddresses=split_csv(mac_addresses))


@_command("domain")
def create_domain(
    name: str,
    domains: Annotated[Csv, typer.Option("-d", "--domains", help="Allowed Windows domains: d1,d2.")] = None,
    role_attributes: RoleAttributes = None,
) -> None:
    """Require membership of one of these Windows domains."""
    if not split_csv(domains):
        raise CliError("give at least one domain with -d")
    _create("DOMAIN", name, role_attributes, domains=split_csv(domains))


@_command("process")
def create_process(
    name: str,
    os: Annotated[str, typer.Argument(metavar="OS", help="Linux, macOS, Windows or WindowsServer.")],
    path: Annotated[str, typer.Argument(help="The process's absolute path.")],
    hashes: Hashes = None,
    signer_fingerprint: Annotated[
        str | None, typer.Option("-f", "--signer-fingerprint", help="SHA-1 of the binary's signer certificate.")
    ] = None,
    role_attributes: RoleAttributes = None,
) -> None:
    """Require a running process (optionally one of these binaries).

    \b
    Example:
      ziti-aio create posture-check process edr linux /opt/edr/agent -s <sha512>
    """
    process: dict[str, Any] = {"osType": os_type(os, PROCESS_OS_TYPES), "path": path, "hashes": split_csv(hashes)}
    if signer_fingerprint:
        process["signerFingerprint"] = signer_fingerprint
    _create("PROCESS", name, role_attributes, process=process)


@_command("process-multi")
def create_process_multi(
    name: str,
    semantic_value: Annotated[str, typer.Argument(metavar="SEMANTIC", help="AllOf or AnyOf.")],
    oses: Annotated[str, typer.Argument(metavar="OS_CSV", help="One OS per process: linux,macos.")],
    paths: Annotated[str, typer.Argument(metavar="PATH_CSV", help="One absolute path per process.")],
    hashes: Annotated[Csv, typer.Option("-s", "--hash-sigs",
                                        help="Per process, SHA-512 hashes separated by |; processes by comma.")] = None,
    signers: Annotated[Csv, typer.Option("-f", "--signer-fingerprints",
                                         help="Per process, signer SHA-1s separated by |; processes by comma.")] = None,
    role_attributes: RoleAttributes = None,
) -> None:
    """Require several running processes (all, or any one).

    \b
    Example:
      ziti-aio create posture-check process-multi agents AnyOf \\
          linux,linux /opt/a,/opt/b
    """
    os_list = [os_type(o, PROCESS_OS_TYPES) for o in oses.split(",")]
    path_list = [p.strip() for p in paths.split(",")]
    if len(os_list) != len(path_list):
        raise CliError("give one OS type per path")
    hash_lists, signer_lists = split_csv(hashes), split_csv(signers)
    processes = []
    for i, (os, path) in enumerate(zip(os_list, path_list, strict=True)):
        process: dict[str, Any] = {"osType": os, "path": path}
        if i < len(hash_lists):
            process["hashes"] = [h for h in hash_lists[i].split("|") if h]
        if i < len(signer_lists):
            process["signerFingerprints"] = [s for s in signer_lists[i].split("|") if s]
        processes.append(process)
    _create("PROCESS_MULTI", name, role_attributes, semantic=semantic(semantic_value), processes=processes)


@_command("mfa")
def create_mfa(
    name: str,
    seconds: Annotated[int, typer.Option("-s", "--seconds", min=-1,
                                         help="Seconds a TOTP code counts for; -1: for the whole API session.")] = -1,
    wake: Annotated[bool, typer.Option("-w", "--wake", help="Ask for a code again after the device wakes.")] = False,
    unlock: Annotated[bool, typer.Option("-u", "--unlock", help="Ask for a code again after an unlock.")] = False,
    ignore_legacy: Annotated[bool, typer.Option("-i", "--ignore-legacy",
                                                help="No timeout or prompts for SDKs that cannot prompt.")] = False,
    role_attributes: RoleAttributes = None,
) -> None:
    """Require a TOTP code given in the API session.

    With --seconds, given that recently.
    """
    _create("MFA", name, role_attributes, timeoutSeconds=seconds, promptOnWake=wake, promptOnUnlock=unlock,
            ignoreLegacyEndpoints=ignore_legacy)
