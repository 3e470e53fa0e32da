from dmzbench.cli.app import main

main()
