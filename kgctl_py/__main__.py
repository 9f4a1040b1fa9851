from kgctl_py.cli import main

main()
