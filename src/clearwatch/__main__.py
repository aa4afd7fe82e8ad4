from clearwatch.cli import main

main()
