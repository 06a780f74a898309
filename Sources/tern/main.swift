import TernCLI

await TernMain.main()
