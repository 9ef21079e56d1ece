from ziti_aio.cli.main import main

main()
