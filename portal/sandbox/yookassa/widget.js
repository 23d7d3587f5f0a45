/* placeholder */ var base = "__SANDBOX_BASE_URL__";
