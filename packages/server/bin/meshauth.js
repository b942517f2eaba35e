#!/usr/bin/env node
// The compiled CLI; a file that exists before the build, so npm can link the bin on install.
import "../dist/cli.js";
