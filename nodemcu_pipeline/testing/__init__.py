"""Lua tests on boards: NodeMCU's NTest (or plain Lua files) run on one board or a farm, results as
TAP, JUnit XML and a summary. ``api.run_lua_tests`` is the whole run; ``invoke test`` its task."""
