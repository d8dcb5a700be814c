export { clusterTemplate, defaultCacheDir, templateFile } from "./clusterTemplate.js";
export { type OpenPgliteOptions, openPglite } from "./openPglite.js";
