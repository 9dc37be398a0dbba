// Removes the throw-away directories a test file registered (SoftHSM token dir, CA fixtures) when
// the file ends; runs after the file's own afterAll hooks (vitest runs after-hooks in stack order).
import { afterAll } from "vitest";
import { removeRegisteredDirs } from "./helpers/temp-dirs.js";

afterAll(removeRegisteredDirs);
