"""Where trials run: the local pool (loky processes or threads), Dask, worker set-up, signals."""
