/** The demo store `npm start` seeds on first run: a few dozen products with stock, and two codes. */
export interface DemoProduct {
  id: string;
  sku: string;
  name: string;
  description: string;
  category: string;
  price: number;
  stock: number;
}

const p = (id: number, sku: string, name: string, category: string, price: number, stock: number, description: string): DemoProduct => ({
  id: String(id),
  sku,
  name,
  category,
  price,
  stock,
  description,
});

// Ids start at 441 so the seed's example order (product 456) works against the demo store.
export const DEMO_PRODUCTS: DemoProduct[] = [
  p(441, 'LAMP-BRASS', 'Brass desk lamp', 'lighting', 4999, 40, 'A warm reading light with a weighted brass base.'),
  p(442, 'LAMP-FLOOR', 'Linen floor lamp', 'lighting', 8900, 15, 'Tall floor lamp with a soft linen shade.'),
  p(443, 'LAMP-PEND', 'Glass pendant light', 'lighting', 6500, 20, 'Hand-blown glass pendant for kitchens and halls.'),
  p(444, 'CANDLE-SET', 'Beeswax candle set', 'lighting', 1800, 100, 'Six hand-dipped beeswax candles.'),
  p(445, 'CHAIR-OAK', 'Oak dining chair', 'furniture', 12000, 24, 'Solid oak chair with a woven seat.'),
  p(446, 'TABLE-OAK', 'Oak dining table', 'furniture', 45000, 6, 'Seats six; oiled solid oak.'),
  p(447, 'SHELF-WALL', 'Walnut wall shelf', 'furniture', 7500, 30, 'Floating shelf, 80 cm, walnut veneer.'),
  p(448, 'STOOL-BAR', 'Steel bar stool', 'furniture', 9500, 12, 'Powder-coated steel stool with footrest.'),
  p(449, 'SOFA-2', 'Two-seat sofa', 'furniture', 89000, 3, 'Compact sofa in washed cotton.'),
  p(450, 'MUG-STONE', 'Stoneware mug', 'kitchen', 1400, 200, 'Glazed stoneware mug, 350 ml.'),
  p(451, 'KETTLE-ENM', 'Enamel kettle', 'kitchen', 3900, 25, 'Stovetop kettle, 1.5 l, enamel.'),
  p(452, 'KNIFE-CHEF', "Chef's knife", 'kitchen', 7900, 18, '20 cm carbon steel chef knife.'),
  p(453, 'BOARD-WOOD', 'Olive wood board', 'kitchen', 3200, 40, 'Cutting and serving board in olive wood.'),
  p(454, 'PAN-IRON', 'Cast iron pan', 'kitchen', 5400, 22, 'Pre-seasoned 26 cm cast iron skillet.'),
  p(455, 'POT-DUTCH', 'Dutch oven', 'kitchen', 11900, 10, 'Enamelled cast iron pot, 4.5 l.'),
  p(456, 'HEADPH-01', 'Wireless headphones', 'electronics', 14900, 50, 'Over-ear headphones with noise cancelling.'),
  p(457, 'SPEAK-01', 'Bluetooth speaker', 'electronics', 6900, 35, 'Portable speaker, 12 hours of play.'),
  p(458, 'CHARGER-65', 'USB-C charger 65 W', 'electronics', 3500, 80, 'Compact GaN charger for laptops and phones.'),
  p(459, 'CABLE-USBC', 'Braided USB-C cable', 'electronics', 1200, 300, 'Two metres, 100 W.'),
  p(460, 'RADIO-DAB', 'DAB+ radio', 'electronics', 8900, 14, 'Kitchen radio with FM and DAB+.'),
  p(461, 'BLANKET-WL', 'Wool blanket', 'textiles', 9900, 20, 'Merino wool throw, 130 × 180 cm.'),
  p(462, 'CUSHION-LN', 'Linen cushion', 'textiles', 2900, 60, 'Washed linen cushion cover with insert.'),
  p(463, 'TOWEL-SET', 'Cotton towel set', 'textiles', 3900, 45, 'Four organic cotton towels.'),
  p(464, 'RUG-JUTE', 'Jute rug', 'textiles', 13900, 8, 'Hand-woven jute rug, 160 × 230 cm.'),
  p(465, 'APRON-CV', 'Canvas apron', 'textiles', 2500, 35, 'Heavy canvas apron with leather straps.'),
  p(466, 'PLANT-POT', 'Terracotta pot', 'garden', 1900, 70, 'Frost-proof terracotta, 25 cm.'),
  p(467, 'SHEARS-PR', 'Pruning shears', 'garden', 3400, 28, 'Bypass pruners with a steel blade.'),
  p(468, 'CAN-WATER', 'Watering can', 'garden', 2900, 30, 'Galvanised steel, 5 l.'),
  p(469, 'SEEDS-HERB', 'Herb seed kit', 'garden', 1500, 90, 'Basil, parsley, chives and thyme.'),
  p(470, 'BENCH-GRD', 'Garden bench', 'garden', 24900, 4, 'Teak bench for two.'),
  p(471, 'NOTEBK-A5', 'A5 notebook', 'stationery', 1600, 150, 'Dot grid, 192 pages, lay-flat binding.'),
  p(472, 'PEN-FOUNT', 'Fountain pen', 'stationery', 4500, 25, 'Steel nib, converter included.'),
  p(473, 'INK-BLUE', 'Blue ink bottle', 'stationery', 1300, 60, '50 ml of royal blue ink.'),
  p(474, 'DESK-PAD', 'Leather desk pad', 'stationery', 5900, 15, 'Vegetable-tanned leather, 60 × 35 cm.'),
  p(475, 'CLOCK-WALL', 'Wall clock', 'decor', 4900, 18, 'Silent sweep movement, 30 cm.'),
  p(476, 'VASE-CER', 'Ceramic vase', 'decor', 3600, 26, 'Matte ceramic vase, 28 cm.'),
  p(477, 'FRAME-OAK', 'Oak picture frame', 'decor', 2200, 55, 'A4 frame with museum glass.'),
  p(478, 'MIRROR-RND', 'Round mirror', 'decor', 11500, 7, 'Brass-framed mirror, 60 cm.'),
  p(479, 'POSTER-MAP', 'Vintage map poster', 'decor', 2400, 40, 'Giclée print, 50 × 70 cm.'),
  p(480, 'GIFT-CARD', 'Last one in stock', 'decor', 999, 1, 'A single unit, for trying out what happens when stock runs out.'),
];

export const DEMO_DISCOUNTS = [
  { code: 'WELCOME10', kind: 'percentage', value: 10, description: '10% off your order' },
  { code: 'SAVE5', kind: 'fixed', value: 500, currency: 'EUR', minSubtotal: 3000, description: '€5 off orders over €30' },
] as const;
