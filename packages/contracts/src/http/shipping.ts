// HTTP bodies of the shipping service.
export {};
