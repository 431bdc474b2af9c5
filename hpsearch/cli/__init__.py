"""The command line: parsing, the commands, study files (`python -m hpsearch`)."""
