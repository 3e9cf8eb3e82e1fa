// HTTP bodies of the payments service.
export {};
