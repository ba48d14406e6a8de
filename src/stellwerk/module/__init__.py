"""The module manager: repositories, module instances and the runtimes they run on."""
