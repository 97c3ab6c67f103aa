import sys

from agent_brain_mcp.cli import main

sys.exit(main())
