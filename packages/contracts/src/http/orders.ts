// HTTP bodies of the orders service.
export {};
