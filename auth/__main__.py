"""Manage accounts, big-screen tokens and the audit log from the command line.

    python -m auth add wang --role duty_officer          # prints a random first password
    python -m auth add li --role station_officer --station PS-03
    python -m auth reset wang | unlock wang | disable wang | enable wang
    python -m auth role wang --role chief
    python -m auth list
    python -m auth kiosk "Command hall wall"            # prints the screen's sign-in path once
    python -m auth revoke-kiosk 1a2b3c4d
    python -m auth verify-audit                          # exit 1 if the hash chain is broken
    python -m auth export-audit > audit.csv

Works on the database of the environment's settings (``DATABASE_URL`` or
``VAR_DIR``); every change is audited with the actor ``cli:<OS user>``.
"""

from __future__ import annotations

import argparse
import getpass
import secrets
import sys

from auth.roles import Role
from auth.users import UserError, UserStore
from geo.index import GridIndex
from settings import Settings
from store.audit import AuditLog
from store.db import database_url, make_engine


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m auth", description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    add = commands.add_parser("add", help="create a user (prints a random first password)")
    add.add_argument("username")
    add.add_argument("--role", required=True, choices=[r.value for r in Role])
    add.add_argument("--station", help="station code (station officers)")
    add.add_argument("--grids", default="",
                     help="comma-separated grid codes (grid workers, volunteers; a community officer's community)")
    add.add_argument("--password", help="set this password instead of a random one (tests, scripts)")
    role = commands.add_parser("role", help="change a user's role")
    role.add_argument("username")
    role.add_argument("--role", required=True, choices=[r.value for r in Role])
    role.add_argument("--station")
    role.add_argument("--grids", default="")
    for name in ("reset", "unlock", "disable", "enable"):
        commands.add_parser(name, help=f"{name} a user").add_argument("username")
    commands.add_parser("list", help="list users")
    kiosk = commands.add_parser("kiosk", help="issue a big-screen token")
    kiosk.add_argument("label")
    commands.add_parser("revoke-kiosk", help="revoke a big-screen token").add_argument("token_id")
    commands.add_parser("verify-audit", help="check the audit log's hash chain")
    commands.add_parser("export-audit", help="write the audit log as CSV to standard output")
    args = parser.parse_args(argv)

    settings = Settings.from_env()
    engine = make_engine(database_url(settings.database_url, settings.var_dir))
    users = UserStore(engine, known_grids=frozenset(GridIndex().codes.tolist()))
    actor = f"cli:{getpass.getuser()}"
    try:
        if args.command == "add":
            password = args.password or secrets.token_urlsafe(12)
            users.create(args.username, password, args.role, station=args.station, grids=args.grids.split(","),
                         by=actor)
            print(password if args.password is None else f"created {args.username}")
        elif args.command == "role":
            users.set_role(args.username, args.role, by=actor, station=args.station, grids=args.grids.split(","))
        elif args.command == "reset":
            password = secrets.token_urlsafe(12)
            users.set_password(args.username, password, by=actor)
            print(password)
        elif args.command == "unlock":
            users.unlock(args.username, by=actor)
        elif args.command in {"disable", "enable"}:
            users.set_active(args.username, args.command == "enable", by=actor)
        elif args.command == "list":
            for user in users.all():
                state = "active" if user["active"] else "disabled"
                grids = ",".join(users.grids_of(user["username"])) or "-"
                print(f"{user['username']:<24} {user['role']:<16} {user['station'] or '-':<8} {state:<9} {grids}")
        elif args.command == "kiosk":
            token_id, token = users.issue_kiosk_token(args.label, by=actor)
            print(f"{token_id} /kiosk/{token}")
        elif args.command == "revoke-kiosk":
            users.revoke_kiosk_token(args.token_id, by=actor)
        elif args.command == "verify-audit":
            check = AuditLog(engine).verify()
            print(f"{check.records} records; " + ("chain intact" if check.intact
                                                  else f"chain BROKEN at record {check.first_broken}"))
            return 0 if check.intact else 1
        elif args.command == "export-audit":
            for chunk in AuditLog(engine).export_csv():
                sys.stdout.write(chunk)
    except UserError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    finally:
        engine.dispose()
    return 0


if __name__ == "__main__":
    sys.exit(main())
