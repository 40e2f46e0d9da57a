"""Real servers on loopback for the integration tests: pebble, BIND 9 and an http-01 web server.

Every server runs as a child process in its own process group, listens only on 127.0.0.1 on
free high ports, writes its log into the pytest temporary directory and is stopped by pid when
its fixture ends. ``testbed.fixtures`` holds the pytest fixtures built on these classes.
"""
