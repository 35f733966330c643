# fish completion for mreg. Install it as vendor_completions.d/mreg.fish or
# ~/.config/fish/completions/mreg.fish. It runs mreg, which reads the
# candidates (commands, options, model names, versions, aliases, URIs) from the store.
complete --command mreg --no-files --arguments "(env _MREG_COMPLETE=complete_fish _TYPER_COMPLETE_FISH_ACTION=get-args _TYPER_COMPLETE_ARGS=(commandline -cp) mreg)" --condition "env _MREG_COMPLETE=complete_fish _TYPER_COMPLETE_FISH_ACTION=is-args _TYPER_COMPLETE_ARGS=(commandline -cp) mreg"
