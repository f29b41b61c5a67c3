"""dockyard: docker's command line, over the Engine API client only."""
