import { optionReference } from "../src/config/reference.js";

process.stdout.write(`${optionReference()}\n`);
