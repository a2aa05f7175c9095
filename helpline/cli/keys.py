"""`helpline keys ...`: the end-to-end encryption keys, on the admin machine (init,
rotate, publish, show, prune, approve, grant, revoke, police-import) and on the police
unit's own machine (police-init, police-grant). Private keys stay in the keys folder.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from helpline.cli.common import key_admin, open_store, police_admin, read_passphrase
from helpline.config import Settings
from helpline.crypto.keys import KeyKind, fingerprint
from helpline.domain.roles import Role


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    keys = sub.add_parser("keys", help="manage end-to-end encryption keys (admin machine)")
    keys.add_argument("--passphrase-file",
                      help="file holding the key files' passphrase (default: prompt or stdin)")
    keys_sub = keys.add_subparsers(dest="action", required=True)
    keys_sub.add_parser("init", help="make the signing key and the first team key")
    keys_sub.add_parser("rotate", help="make the next team key; new conversations use it")
    keys_sub.add_parser("publish", help="publish the signing key, revocations and police"
                                        " statement again (e.g. to a new Redis)")
    keys_sub.add_parser("show", help="print the signing fingerprint and published keys")
    keys_sub.add_parser("prune", help="delete the key files of retired team periods")
    approve = keys_sub.add_parser(
        "approve", help="approve a device by the fingerprints shown on its own screen")
    approve.add_argument("name")
    approve.add_argument("fingerprint", help="the device's encryption (X25519) fingerprint")
    approve.add_argument("--signing-fingerprint", required=True,
                         help="the device's signing (Ed25519) fingerprint")
    approve.add_argument("--role", required=True, choices=[r.value for r in Role])
    grant = keys_sub.add_parser("grant", help="grant keys to an approved device")
    grant.add_argument("name")
    grant.add_argument("--period", action="append", default=None,
                       help="grant this (older) period's team key instead of the current ones")
    revoke = keys_sub.add_parser("revoke", help="revoke a person's device keys or one key")
    revoke.add_argument("target", help="a user name (approved device) or a key fingerprint")
    police_import = keys_sub.add_parser(
        "police-import", help="sign a statement for the police unit's public key")
    police_import.add_argument("file", help="the public-key file `keys police-init` wrote")
    police_import.add_argument("--fingerprint", required=True,
                               help="the fingerprint the police unit read out to you")
    keys_sub.add_parser("police-init", help="police machine: make the police unit's key pair")
    police_grant = keys_sub.add_parser(
        "police-grant", help="police machine: grant the police key to an officer's device")
    police_grant.add_argument("name")
    police_grant.add_argument("--fingerprint", required=True,
                              help="the officer's device encryption fingerprint")
    police_grant.add_argument("--signing-fingerprint", required=True,
                              help="the officer's device signing fingerprint")


async def run(settings: Settings, args: argparse.Namespace) -> int:
    if args.action == "police-init":  # the police machine needs no Redis for this
        public, fp = police_admin(settings, None,
                                  read_passphrase(args.passphrase_file)).init()
        print(f"police unit key made in {settings.resolved_keys_dir}")
        print(f"public key: {public}")
        print(f"fingerprint (read it out to the helpline's admin): {fp}")
        print(f"public-key file for `keys police-import`: "
              f"{settings.resolved_keys_dir / f'police-{settings.police_unit}.pub.json'}")
        return 0
    async with open_store(settings) as store:
        if args.action == "show":
            signing = await store.get_signing_key()
            if signing is None:
                print("no keys published; run `helpline keys init`")
                return 1
            print(f"signing fingerprint: {fingerprint(signing, KeyKind.ED25519)}")
            print(f"current team period: {await store.get_current_period()}")
            for period in sorted(await store.get_team_statements()):
                print(f"team key: {period}")
            revocations = await store.get_revocations()
            if revocations:
                listed = json.loads(revocations)
                print(f"revocation list: serial {listed['serial']},"
                      f" {len(listed['revoked'])} key(s) revoked")
            return 0
        passphrase = read_passphrase(args.passphrase_file)
        if args.action == "police-grant":
            unit = await police_admin(settings, store, passphrase).grant(
                args.name, args.fingerprint, args.signing_fingerprint)
            print(f"granted the {unit} key to {args.name}")
            return 0
        admin = key_admin(settings, store, passphrase)
        if args.action == "init":
            fp = await admin.init()
            print(f"keys made in {settings.resolved_keys_dir}")
            print(f"signing fingerprint (put it in the widget's embed snippet): {fp}")
        elif args.action == "rotate":
            period, granted, refused = await admin.rotate()
            print(f"new team key for period {period}; granted to: {', '.join(granted) or '-'}")
            for line in refused:
                print(f"NOT granted (check and approve again): {line}", file=sys.stderr)
        elif args.action == "approve":
            entry = await admin.approve(args.name, Role(args.role), args.fingerprint,
                                        args.signing_fingerprint)
            print(f"approved {entry.username} ({entry.role.value}): encryption"
                  f" {entry.encryption}, signing {entry.signing}")
        elif args.action == "revoke":
            revoked = await admin.revoke(args.target)
            print(f"revoked {len(revoked)} key(s): {', '.join(revoked)}")
            print("next: `helpline keys rotate`, so new conversations use a key the lost"
                  " device never had")
        elif args.action == "police-import":
            fp = await admin.police_import(Path(args.file), args.fingerprint)
            print(f"police key {fp} imported; statement valid"
                  f" {settings.police_statement_days} days")
        elif args.action == "prune":
            removed = await admin.prune()
            print(f"deleted the key files of: {', '.join(removed) or 'no period'}")
        elif args.action == "publish":
            print(f"published; signing fingerprint {await admin.publish()}")
        elif args.action == "grant":
            granted = await admin.grant(args.name, args.period)
            print(f"granted {', '.join(granted) or 'a staff statement only'} to {args.name}"
                  f" (statement valid {settings.staff_statement_days} days)")
    return 0
