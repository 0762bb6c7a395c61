from flux_cli.cli import main

main()
