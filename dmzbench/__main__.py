from dmzbench.cli import main

main()
