// HTTP bodies of the inventory service.
export {};
