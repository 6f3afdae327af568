"""Graph nodes (route, plan, execute, reflect, respond, swap); built by the graph issue."""
