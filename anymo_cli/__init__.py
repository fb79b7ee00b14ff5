"""The `anymo` command line: one table of subcommands (`anymo_cli.commands.COMMANDS`) and one entry point
(`anymo_cli.main.main`). It lives outside `anymo/` (the method) and `edge/` (the device runtime) because it
dispatches to both, and to the BLE bridge; it imports none of them until a subcommand runs."""
